/**
 * The one record every feedback source (relay webhooks, the bounce mailbox) turns its input into, so a
 * single policy and a single idempotent store handle bounces and complaints whatever their origin.
 */
export type FeedbackKind = 'hard_bounce' | 'soft_bounce' | 'complaint' | 'unsubscribe';

export type FeedbackSource = 'ses' | 'postmark' | 'mailgun' | 'sendgrid' | 'brevo' | 'resend' | 'mailbox';

export interface FeedbackReport {
  source: FeedbackSource;
  /** The source's own id for this report (event id, SNS MessageId, the DSN's Message-ID): with `source`, the idempotency key. */
  reportId: string;
  /** What ties the report to one delivery; any of them may be missing (an unmatched report is still stored). */
  messageRef: {
    /** The Message-ID Gazette put on the mail, without angle brackets. */
    messageId?: string;
    /** The relay's own id for the message (e.g. from its `250 Ok <id>` answer). */
    relayId?: string;
    /** The token of a VERP return path (`bounces+<token>@domain`). */
    verpToken?: string;
  };
  /** The recipient the report is about, as the source gives it. */
  address: string;
  kind: FeedbackKind;
  /** Enhanced status code (RFC 3463), e.g. `5.1.1`, when the source gives one. */
  diagnosticCode?: string;
  diagnosticText?: string;
  /** When the bounce or complaint happened (epoch ms), per the source. */
  occurredAt: number;
  /** The payload as received, kept for 30 days for the writer to inspect. */
  raw: string;
}

/** Where sources hand their reports: the feedback service stores them once and applies the policy. */
export interface FeedbackSink {
  record(reports: FeedbackReport[]): Promise<{ stored: number; duplicates: number }>;
}
