import type { Generated, Selectable } from 'kysely';

/** A newsletter's welcome mail (src/features/welcome). */
export interface WelcomeMailsTable {
  newsletter_id: number;
  enabled: Generated<number>;
  subject: string;
  body: string;
  updated_at: number;
}

/** At most one welcome per subscriber and newsletter: the primary key is the guarantee. */
export interface WelcomeSentTable {
  newsletter_id: number;
  subscriber_id: number;
  mail_id: number | null;
  created_at: number;
}

export type WelcomeMailRow = Selectable<WelcomeMailsTable>;
