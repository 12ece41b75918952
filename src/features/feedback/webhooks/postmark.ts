import type { FeedbackKind, FeedbackReport } from '../report.js';
import { checkSharedSecret, malformed, obj, parseJson, str, timeOf, statusCodeIn, type WebhookAdapter } from './types.js';

/** Postmark's bounce `Type`s, by what they say about the address (postmarkapp.com/developer/api/bounce-api). */
const HARD = new Set(['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated', 'Unsubscribe', 'SpamNotification', 'Blocked']);
const SOFT = new Set(['SoftBounce', 'Transient', 'DnsError', 'ChallengeVerification', 'MailFrontier', 'SMTPApiError', 'InboundError', 'DMARCPolicy']);

function kindOf(recordType: string | undefined, type: string | undefined, inactive: boolean): FeedbackKind | undefined {
  if (recordType === 'SpamComplaint') return 'complaint';
  if (recordType === 'SubscriptionChange') return undefined;
  if (recordType !== 'Bounce') return undefined;
  if (type === 'SpamComplaint') return 'complaint';
  if (inactive || (type !== undefined && HARD.has(type))) return 'hard_bounce';
  if (type !== undefined && SOFT.has(type)) return 'soft_bounce';
  // AutoResponder, OpenRelayTest, Unknown, VirusNotification…: nothing about the address.
  return undefined;
}

/** Postmark signs nothing: the webhook URL carries basic auth or a token (checkSharedSecret). */
export function postmarkAdapter(secret: string): WebhookAdapter {
  return {
    async handle(call) {
      checkSharedSecret(call, secret);
      const body = obj(parseJson(call.rawBody));
      if (!body) throw malformed('a JSON object');
      const recordType = str(body.RecordType);
      const address = str(body.Email);
      const id = str(body.ID);
      if (!recordType) throw malformed('RecordType is missing');
      const kind = kindOf(recordType, str(body.Type), body.Inactive === true);
      if (!kind) return { reports: [], ignored: 1 };
      if (!address || !id) throw malformed('Email and ID are required');
      const details = str(body.Details) ?? str(body.Description);
      const report: FeedbackReport = {
        source: 'postmark',
        reportId: `${recordType}:${id}`,
        messageRef: { relayId: str(body.MessageID) },
        address,
        kind,
        diagnosticCode: statusCodeIn(details),
        diagnosticText: [str(body.Type), details].filter(Boolean).join(': '),
        occurredAt: timeOf(body.BouncedAt, call.now),
        raw: call.rawBody.toString('utf8'),
      };
      return { reports: [report], ignored: 0 };
    },
  };
}
