import type { FeedbackKind, FeedbackReport } from '../report.js';
import { checkSharedSecret, malformed, obj, parseJson, str, timeOf, statusCodeIn, type Json, type WebhookAdapter } from './types.js';

/** Brevo's transactional webhook `event`s (developers.brevo.com, "Transactional webhooks"). */
const KINDS: Record<string, FeedbackKind> = {
  hard_bounce: 'hard_bounce',
  invalid_email: 'hard_bounce',
  blocked: 'hard_bounce',
  soft_bounce: 'soft_bounce',
  spam: 'complaint',
  complaint: 'complaint',
  unsubscribed: 'unsubscribe',
};

function toReport(e: Json, raw: string, now: number): FeedbackReport | undefined {
  const event = str(e.event);
  const kind = event ? KINDS[event] : undefined;
  if (!kind) return undefined;
  const address = str(e.email);
  if (!address) throw malformed('email is required');
  const messageId = str(e['message-id']);
  const at = timeOf(e.ts_event ?? e.ts ?? e.date, now);
  const reason = str(e.reason);
  return {
    source: 'brevo',
    // Brevo gives no event id: the event, message, address and time name one event, and a retry repeats them.
    reportId: `${event}:${messageId ?? '-'}:${address}:${at}`,
    // Brevo's message-id is the Message-ID header of the mail it sent: ours when we set one, else its own.
    messageRef: messageId ? { messageId, relayId: messageId } : {},
    address,
    kind,
    diagnosticCode: statusCodeIn(reason),
    diagnosticText: reason ?? event,
    occurredAt: at,
    raw,
  };
}

/** Brevo signs nothing: the webhook is created with basic auth or a bearer token (checkSharedSecret). */
export function brevoAdapter(secret: string): WebhookAdapter {
  return {
    async handle(call) {
      checkSharedSecret(call, secret);
      const parsed = parseJson(call.rawBody);
      // One event per call, or a batch (an array) when batched webhooks are on.
      const events = Array.isArray(parsed) ? parsed.map(obj) : [obj(parsed)];
      if (events.some((e) => e === undefined)) throw malformed('an event object or an array of them');
      const whole = call.rawBody.toString('utf8');
      const reports = events.flatMap((e) => toReport(e!, Array.isArray(parsed) ? JSON.stringify(e) : whole, call.now) ?? []);
      return { reports, ignored: events.length - reports.length };
    },
  };
}
