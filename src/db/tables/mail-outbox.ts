import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * queued → sending → sent | retry | failed; retry → sending; a `sending` row whose process died becomes
 * `unknown` (the relay may have it), and only the writer sends it again.
 */
export type MailStatus = 'queued' | 'sending' | 'sent' | 'retry' | 'failed' | 'unknown';

/** Single messages written in the transaction that decides them and sent after commit. */
export interface MailOutboxTable {
  id: Generated<number>;
  kind: string;
  to_address: string;
  subject: string;
  message_id: string;
  payload: string;
  status: MailStatus;
  attempts: Generated<number>;
  next_attempt_at: number;
  claimed_at: number | null;
  last_error: string | null;
  response: string | null;
  subscriber_id: number | null;
  newsletter_id: number | null;
  event_type: string | null;
  created_at: number;
  sent_at: number | null;
}

export type MailOutboxRow = Selectable<MailOutboxTable>;
export type NewMailOutboxRow = Insertable<MailOutboxTable>;
