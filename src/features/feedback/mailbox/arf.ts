import { addressOf } from './dsn.js';
import { parseHeaderBlock } from './mime.js';

/**
 * Abuse reports in the Abuse Reporting Format (RFC 5965): the `message/feedback-report` part of a
 * `multipart/report; report-type=feedback-report` mail, as Yahoo/AOL, Microsoft's JMRP, Comcast and
 * other feedback loops send them when a reader presses "this is spam".
 */

export interface FeedbackReportFields {
  /** Lower case: abuse, fraud, virus, other, not-spam, auth-failure… */
  feedbackType: string;
  /** Original-Rcpt-To, when the loop does not redact it. */
  originalRecipient?: string;
  arrivalAt?: number;
  userAgent?: string;
}

export function parseFeedbackReport(text: string): FeedbackReportFields {
  const fields = parseHeaderBlock(text.replace(/\r\n/g, '\n').replace(/\n[ \t]*\n/g, '\n'));
  const get = (name: string) => fields.find((f) => f.name === name)?.value;
  const originalRecipient = addressOf(get('original-rcpt-to'));
  const arrival = Date.parse(get('arrival-date') ?? get('received-date') ?? '');
  const userAgent = get('user-agent');
  return {
    feedbackType: (get('feedback-type') ?? '').trim().toLowerCase(),
    ...(originalRecipient ? { originalRecipient } : {}),
    ...(Number.isFinite(arrival) ? { arrivalAt: arrival } : {}),
    ...(userAgent ? { userAgent } : {}),
  };
}

/**
 * Whether a report counts as a complaint. `not-spam` takes a complaint back (ignored: the address stays
 * suppressed until the writer decides) and `auth-failure` is a DMARC/SPF forensic report about the
 * sending domain, not about a reader.
 */
export function isComplaint(feedbackType: string): boolean {
  return feedbackType === 'abuse' || feedbackType === 'fraud' || feedbackType === 'virus' || feedbackType === 'other' || feedbackType === '';
}
