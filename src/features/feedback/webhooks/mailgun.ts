import { createHash, createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../../lib/tokens.js';
import type { FeedbackKind, FeedbackReport } from '../report.js';
import { malformed, obj, parseJson, REPLAY_WINDOW_MS, statusCodeIn, str, timeOf, WebhookRefusal, type WebhookAdapter } from './types.js';

const MAX_TOKENS = 100_000;

function kindOf(event: string | undefined, severity: string | undefined): FeedbackKind | undefined {
  if (event === 'failed') return severity === 'permanent' ? 'hard_bounce' : severity === 'temporary' ? 'soft_bounce' : undefined;
  if (event === 'complained') return 'complaint';
  if (event === 'unsubscribed') return 'unsubscribe';
  return undefined;
}

/**
 * Mailgun signs `timestamp + token` with the webhook signing key (HMAC-SHA256, hex) inside the body.
 * The signature does not cover the event, so a token is accepted again only with the very same body
 * (Mailgun's retry) within the replay window: a captured signature cannot carry another event.
 */
export function mailgunAdapter(signingKey: string): WebhookAdapter {
  const seen = new Map<string, { body: string; at: number }>();

  function checkToken(token: string, bodyHash: string, now: number): void {
    for (const [t, v] of seen) {
      if (now - v.at <= REPLAY_WINDOW_MS) break;
      seen.delete(t);
    }
    const before = seen.get(token);
    if (before && before.body !== bodyHash) throw new WebhookRefusal('token replayed with another body');
    if (!before) seen.set(token, { body: bodyHash, at: now });
    // A flood of fresh tokens must not grow this without bound: the oldest go first.
    if (seen.size > MAX_TOKENS) seen.delete(seen.keys().next().value!);
  }

  return {
    async handle(call) {
      const body = obj(parseJson(call.rawBody));
      const sig = obj(body?.signature);
      const timestamp = str(sig?.timestamp);
      const token = str(sig?.token);
      const signature = str(sig?.signature);
      if (!timestamp || !token || !signature) throw new WebhookRefusal('no signature');
      const expected = createHmac('sha256', signingKey).update(timestamp + token).digest('hex');
      if (!constantTimeEqual(signature.toLowerCase(), expected)) throw new WebhookRefusal('bad signature');
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(call.now - Number(timestamp) * 1000) > REPLAY_WINDOW_MS) throw new WebhookRefusal('stale timestamp');
      const data = obj(body!['event-data']);
      if (!data) throw malformed('event-data is missing');
      checkToken(token, createHash('sha256').update(JSON.stringify(data)).digest('hex'), call.now);

      const kind = kindOf(str(data.event), str(data.severity));
      if (!kind) return { reports: [], ignored: 1 };
      const id = str(data.id);
      const address = str(data.recipient);
      if (!id || !address) throw malformed('event-data.id and event-data.recipient are required');
      const status = obj(data['delivery-status']);
      const headers = obj(obj(data.message)?.headers);
      const text = str(status?.message) ?? str(status?.description) ?? str(data.reason);
      const report: FeedbackReport = {
        source: 'mailgun',
        reportId: id,
        messageRef: { messageId: str(headers?.['message-id']) },
        address,
        kind,
        diagnosticCode: str(status?.['enhanced-code']) ?? statusCodeIn(text),
        diagnosticText: [str(status?.code), text].filter(Boolean).join(' '),
        occurredAt: timeOf(data.timestamp, call.now),
        raw: call.rawBody.toString('utf8'),
      };
      return { reports: [report], ignored: 0 };
    },
  };
}
