import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { DkimConfig, SmtpConfig } from '../config.js';
import { domainOf, newMessageId, nodemailerFields, type Mailer, type OutgoingMail, type SendResult } from './mailer.js';

/** Headers DKIM must cover; nodemailer's default list leaves out List-Unsubscribe-Post (RFC 8058 §4). */
export const DKIM_SIGNED_HEADERS =
  'From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:Content-Type:Content-Transfer-Encoding:' +
  'List-Id:List-Unsubscribe:List-Unsubscribe-Post:Feedback-ID';

export function smtpTransportOptions(smtp: SmtpConfig, dkim: DkimConfig | undefined): SMTPTransport.Options {
  return {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    // Message content never makes the mail library read files or fetch URLs on our behalf.
    disableFileAccess: true,
    disableUrlAccess: true,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
    ...(dkim
      ? {
          dkim: {
            domainName: dkim.domain,
            keySelector: dkim.selector,
            privateKey: dkim.privateKey,
            headerFieldNames: DKIM_SIGNED_HEADERS,
          },
        }
      : {}),
  };
}

/** Single messages over the configured relay, on a small pool so bursts of confirmations reuse connections. */
export function createSmtpMailer(smtp: SmtpConfig, dkim: DkimConfig | undefined): Mailer {
  const transport = nodemailer.createTransport({
    ...smtpTransportOptions(smtp, dkim),
    pool: true,
    maxConnections: 2,
  } as SMTPTransport.Options);

  return {
    kind: 'smtp',
    async send(mail: OutgoingMail): Promise<SendResult> {
      const messageId = mail.messageId ?? newMessageId(dkim?.domain ?? domainOf(mail.from));
      const info = await transport.sendMail(nodemailerFields(mail, messageId));
      return { messageId, response: info.response, delivered: true };
    },
    async verify(): Promise<string> {
      await transport.verify();
      return `Connected to ${smtp.host}:${smtp.port}${smtp.user ? ` and signed in as ${smtp.user}` : ''}.`;
    },
    async close(): Promise<void> {
      transport.close();
    },
  };
}
