import { createHmac } from 'node:crypto';
import { constantTimeEqual } from '../../../lib/tokens.js';
import type { FeedbackKind, FeedbackReport } from '../report.js';
import { header, malformed, obj, parseJson, REPLAY_WINDOW_MS, str, timeOf, statusCodeIn, WebhookRefusal, type WebhookAdapter } from './types.js';

function kindOf(type: string | undefined, bounceType: string | undefined): FeedbackKind | undefined {
  if (type === 'email.bounced') return bounceType === 'Permanent' ? 'hard_bounce' : 'soft_bounce';
  if (type === 'email.complained') return 'complaint';
  // email.delivery_delayed: Resend is still trying; email.sent/delivered/opened/clicked say nothing bad.
  return undefined;
}

/**
 * Resend signs with Svix (the Standard Webhooks scheme): `svix-signature` holds one or more `v1,<base64>`
 * HMAC-SHA256 signatures of `<svix-id>.<svix-timestamp>.<body>`, keyed by the base64 part of `whsec_…`.
 */
export function resendAdapter(secret: string): WebhookAdapter {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return {
    async handle(call) {
      const id = header(call, 'svix-id') ?? header(call, 'webhook-id');
      const timestamp = header(call, 'svix-timestamp') ?? header(call, 'webhook-timestamp');
      const signatures = header(call, 'svix-signature') ?? header(call, 'webhook-signature');
      if (!id || !timestamp || !signatures) throw new WebhookRefusal('no signature');
      if (!/^\d{1,12}$/.test(timestamp) || Math.abs(call.now - Number(timestamp) * 1000) > REPLAY_WINDOW_MS) throw new WebhookRefusal('stale timestamp');
      const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(call.rawBody).digest('base64');
      const ok = signatures.split(' ').some((s) => s.startsWith('v1,') && constantTimeEqual(s.slice(3), expected));
      if (!ok) throw new WebhookRefusal('bad signature');

      const body = obj(parseJson(call.rawBody));
      const data = obj(body?.data);
      if (!body || !data) throw malformed('type and data are required');
      const bounce = obj(data.bounce);
      const kind = kindOf(str(body.type), str(bounce?.type));
      if (!kind) return { reports: [], ignored: 1 };
      const to = Array.isArray(data.to) ? data.to.filter((a): a is string => typeof a === 'string').map((a) => /<([^<>]+)>\s*$/.exec(a)?.[1] ?? a) : [];
      if (to.length === 0) throw malformed('data.to is required');
      const text = str(bounce?.message) ?? str(bounce?.subType);
      const raw = call.rawBody.toString('utf8');
      const reports: FeedbackReport[] = to.map((address) => ({
        source: 'resend',
        // svix-id is the same on every retry of this event.
        reportId: to.length === 1 ? id : `${id}:${address}`,
        messageRef: { relayId: str(data.email_id) },
        address,
        kind,
        diagnosticCode: statusCodeIn(text),
        diagnosticText: [str(bounce?.subType), str(bounce?.message)].filter(Boolean).join(': ') || str(body.type),
        occurredAt: timeOf(body.created_at ?? data.created_at, call.now),
        raw,
      }));
      return { reports, ignored: 0 };
    },
  };
}
