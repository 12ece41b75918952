import type { Generated, Selectable } from 'kysely';

/** What the policy did with a report. */
export type FeedbackOutcome = 'suppressed' | 'counted' | 'unsubscribed' | 'ignored';

/** One bounce, complaint or unsubscribe request, stored once per (source, report_id). */
export interface FeedbackReportsTable {
  id: Generated<number>;
  /** ses | postmark | mailgun | sendgrid | brevo | resend | mailbox (see features/feedback/report.ts). */
  source: string;
  report_id: string;
  kind: 'hard_bounce' | 'soft_bounce' | 'complaint' | 'unsubscribe';
  address: string;
  email_hash: string;
  /** Null when the report matched none of our deliveries: shown to the writer as unmatched. */
  delivery_id: number | null;
  post_id: number | null;
  subscriber_id: number | null;
  diagnostic_code: string | null;
  diagnostic_text: string | null;
  outcome: FeedbackOutcome;
  occurred_at: number;
  received_at: number;
  /** The payload as received; null once pruned (30 days). */
  raw: string | null;
}

export type FeedbackReportRow = Selectable<FeedbackReportsTable>;
