import { createVerify, type X509Certificate } from 'node:crypto';
import type { FeedbackKind, FeedbackReport } from '../report.js';
import { createCertificateCache, type SnsTrust } from './sns-certificates.js';
import { malformed, obj, parseJson, str, timeOf, statusCodeIn, WebhookRefusal, type Json, type WebhookAdapter } from './types.js';

const TYPES = new Set(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']);

/** The string SNS signs: these keys in this order, each key and value followed by a newline. */
function stringToSign(m: Json): string {
  const keys =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', ...(typeof m.Subject === 'string' ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return keys.map((k) => `${k}\n${String(m[k] ?? '')}\n`).join('');
}

function parseUrl(v: unknown): URL | undefined {
  try {
    return typeof v === 'string' ? new URL(v) : undefined;
  } catch {
    return undefined;
  }
}

function bounceKind(bounce: Json): FeedbackKind {
  const type = str(bounce.bounceType);
  const sub = str(bounce.bounceSubType);
  // SES's own suppression lists refuse the address outright, whatever the bounce type says.
  if (type === 'Permanent' || sub === 'Suppressed' || sub === 'OnAccountSuppressionList') return 'hard_bounce';
  return 'soft_bounce';
}

/** An SES event (Bounce or Complaint; others say nothing about an address) as reports, one per recipient. */
function reportsOf(message: Json, snsId: string, raw: string, now: number): FeedbackReport[] {
  const type = str(message.notificationType) ?? str(message.eventType);
  const mail = obj(message.mail) ?? {};
  const headerId = Array.isArray(mail.headers)
    ? str(obj(mail.headers.find((h) => /^message-id$/i.test(str(obj(h)?.name) ?? '')))?.value)
    : undefined;
  const messageRef = { relayId: str(mail.messageId), messageId: str(obj(mail.commonHeaders)?.messageId) ?? headerId };
  const one = (kind: FeedbackKind, feedbackId: string | undefined, r: Json, at: unknown, text: string | undefined): FeedbackReport | undefined => {
    const address = str(r.emailAddress);
    if (!address) return undefined;
    return {
      source: 'ses',
      reportId: `${feedbackId ?? snsId}:${address.toLowerCase()}`,
      messageRef,
      address,
      kind,
      diagnosticCode: str(r.status) ?? statusCodeIn(text),
      diagnosticText: text,
      occurredAt: timeOf(at, now),
      raw,
    };
  };
  if (type === 'Bounce') {
    const bounce = obj(message.bounce);
    if (!bounce || !Array.isArray(bounce.bouncedRecipients)) throw malformed('bounce.bouncedRecipients is missing');
    const kind = bounceKind(bounce);
    return bounce.bouncedRecipients.flatMap((r) => {
      const rec = obj(r) ?? {};
      const text = str(rec.diagnosticCode) ?? [str(bounce.bounceType), str(bounce.bounceSubType)].filter(Boolean).join(' / ');
      return one(kind, str(bounce.feedbackId), rec, bounce.timestamp, text) ?? [];
    });
  }
  if (type === 'Complaint') {
    const complaint = obj(message.complaint);
    if (!complaint || !Array.isArray(complaint.complainedRecipients)) throw malformed('complaint.complainedRecipients is missing');
    // "not-spam" is a recipient taking mail back out of the spam folder: the opposite of a complaint.
    if (str(complaint.complaintFeedbackType) === 'not-spam') return [];
    const text = str(complaint.complaintFeedbackType) ?? 'complaint';
    return complaint.complainedRecipients.flatMap((r) => one('complaint', str(complaint.feedbackId), obj(r) ?? {}, complaint.timestamp, text) ?? []);
  }
  return [];
}

/**
 * Amazon SES through SNS: the notification is signed (SignatureVersion 1: SHA1, 2: SHA256) with the
 * certificate at SigningCertURL, which must be an SNS host of a configured topic's region; the topic
 * must be one of ours. A subscription confirmation, once verified, is confirmed by visiting SubscribeURL.
 */
export function sesAdapter(topicArns: readonly string[], trust: SnsTrust): WebhookAdapter {
  const topics = new Set(topicArns);
  const regions = new Set(topicArns.map((arn) => arn.split(':')[3]!));
  const certificate = createCertificateCache(trust);

  async function checkSignature(m: Json): Promise<void> {
    const version = str(m.SignatureVersion);
    if (version !== '1' && version !== '2') throw new WebhookRefusal('unknown signature version');
    const certUrl = parseUrl(m.SigningCertURL);
    if (!certUrl || !trust.certificateUrl(certUrl, regions)) throw new WebhookRefusal('certificate URL not allowed');
    let cert: X509Certificate;
    try {
      cert = await certificate(certUrl);
    } catch (err) {
      throw new WebhookRefusal(`certificate unavailable (${(err as Error).message})`);
    }
    const signature = str(m.Signature);
    if (!signature) throw new WebhookRefusal('no signature');
    const verifier = createVerify(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    verifier.update(stringToSign(m), 'utf8');
    let ok = false;
    try {
      ok = verifier.verify(cert.publicKey, signature, 'base64');
    } catch {
      ok = false;
    }
    if (!ok) throw new WebhookRefusal('bad signature');
  }

  return {
    async handle(call) {
      const m = obj(parseJson(call.rawBody));
      if (!m || !TYPES.has(str(m.Type) ?? '') || !str(m.MessageId) || typeof m.Message !== 'string') throw malformed('an Amazon SNS message');
      if (!topics.has(str(m.TopicArn) ?? '')) throw new WebhookRefusal('unknown topic');
      await checkSignature(m);
      if (m.Type === 'SubscriptionConfirmation') {
        const url = parseUrl(m.SubscribeURL);
        if (!url || !trust.subscribeUrl(url, regions)) throw new WebhookRefusal('subscribe URL not allowed');
        return { reports: [], ignored: 0, subscribeUrl: url.toString() };
      }
      if (m.Type === 'UnsubscribeConfirmation') return { reports: [], ignored: 1 };
      let message: Json | undefined;
      try {
        message = obj(JSON.parse(m.Message as string));
      } catch {
        message = undefined;
      }
      if (!message) throw malformed('Message is not an SES event');
      const reports = reportsOf(message, str(m.MessageId)!, m.Message as string, call.now);
      return { reports, ignored: reports.length === 0 ? 1 : 0 };
    },
  };
}
