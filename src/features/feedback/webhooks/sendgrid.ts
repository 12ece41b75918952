import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { FeedbackKind, FeedbackReport } from '../report.js';
import { header, malformed, obj, parseJson, str, timeOf, statusCodeIn, WebhookRefusal, type Json, type WebhookAdapter } from './types.js';

function kindOf(e: Json): FeedbackKind | undefined {
  switch (str(e.event)) {
    case 'bounce':
      // "blocked" is about the sending IP or the content, not the recipient: a strike, not a verdict.
      return str(e.type) === 'blocked' ? 'soft_bounce' : 'hard_bounce';
    case 'spamreport':
      return 'complaint';
    case 'unsubscribe':
    case 'group_unsubscribe':
      return 'unsubscribe';
    case 'dropped': {
      // SendGrid drops mail to addresses on its own suppression lists: what put them there is what counts.
      const reason = str(e.reason) ?? '';
      if (/bounced address|invalid/i.test(reason)) return 'hard_bounce';
      if (/spam reporting address/i.test(reason)) return 'complaint';
      if (/unsubscribed address/i.test(reason)) return 'unsubscribe';
      return undefined;
    }
    default:
      // processed, delivered, deferred (SendGrid still retries), open, click…
      return undefined;
  }
}

function toReport(e: Json, now: number): FeedbackReport | undefined {
  const kind = kindOf(e);
  if (!kind) return undefined;
  const id = str(e.sg_event_id);
  const address = str(e.email);
  if (!id || !address) throw malformed('each event needs sg_event_id and email');
  const reason = str(e.reason) ?? str(e.response);
  return {
    source: 'sendgrid',
    reportId: id,
    messageRef: {
      messageId: str(e['smtp-id']),
      // sg_message_id is the id SendGrid answered at DATA ("queued as <id>"), followed by its filter's name.
      relayId: str(e.sg_message_id)?.split('.')[0],
    },
    address,
    kind,
    diagnosticCode: str(e.status) ?? statusCodeIn(reason),
    diagnosticText: reason ?? str(e.event),
    occurredAt: timeOf(e.timestamp, now),
    raw: JSON.stringify(e),
  };
}

/**
 * SendGrid's signed event webhook: an ECDSA P-256 signature (base64 DER) over the timestamp header
 * followed by the raw body, checked with the verification key from its dashboard.
 */
export function sendgridAdapter(publicKeyPem: string): WebhookAdapter {
  const key: KeyObject = createPublicKey(publicKeyPem);
  return {
    async handle(call) {
      const signature = header(call, 'x-twilio-email-event-webhook-signature');
      const timestamp = header(call, 'x-twilio-email-event-webhook-timestamp');
      if (!signature || !timestamp) throw new WebhookRefusal('no signature');
      let ok = false;
      try {
        ok = verify('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), call.rawBody]), key, Buffer.from(signature, 'base64'));
      } catch {
        ok = false;
      }
      if (!ok) throw new WebhookRefusal('bad signature');
      const parsed = parseJson(call.rawBody);
      if (!Array.isArray(parsed)) throw malformed('an array of events');
      const events = parsed.map(obj);
      if (events.some((e) => e === undefined)) throw malformed('an array of event objects');
      const reports = events.flatMap((e) => toReport(e!, call.now) ?? []);
      return { reports, ignored: events.length - reports.length };
    },
  };
}
