import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { TrackingMode } from './tracking.js';

export interface NewslettersTable {
  id: Generated<number>;
  slug: string;
  name: string;
  description: Generated<string>;
  from_name: Generated<string>;
  from_email: string;
  reply_to: string | null;
  double_opt_in: Generated<number>;
  archive_public: Generated<number>;
  postal_address: Generated<string>;
  time_zone: Generated<string>;
  default_lock: number | null;
  /** off | aggregate | subscriber (see src/domain/tracking.ts). */
  tracking_mode: Generated<TrackingMode>;
  created_at: number;
  updated_at: number;
}

export type NewsletterRow = Selectable<NewslettersTable>;
export type NewNewsletterRow = Insertable<NewslettersTable>;
export type NewsletterUpdate = Updateable<NewslettersTable>;

/** An old slug of a renamed newsletter, still leading to it (see migration 0008). */
export interface NewsletterSlugAliasesTable {
  slug: string;
  newsletter_id: number;
  created_at: number;
}
