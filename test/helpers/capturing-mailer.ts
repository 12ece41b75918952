import type { Mailer, OutgoingMail, SendResult } from '../../src/sending/mailer.js';
import { newMessageId } from '../../src/sending/mailer.js';

/** Records every message instead of sending it; `fail` makes the next sends throw like a refusing relay. */
export class CapturingMailer implements Mailer {
  readonly kind = 'capture' as const;
  readonly sent: Array<OutgoingMail & { messageId: string }> = [];
  fail: Error | undefined;

  async send(mail: OutgoingMail): Promise<SendResult> {
    if (this.fail) throw this.fail;
    const messageId = mail.messageId ?? newMessageId('gazette.test');
    this.sent.push({ ...mail, messageId });
    return { messageId, response: '250 captured', delivered: true };
  }
  async verify(): Promise<string> {
    return 'capturing mailer';
  }
  async close(): Promise<void> {}

  last(): (OutgoingMail & { messageId: string }) | undefined {
    return this.sent[this.sent.length - 1];
  }
}
