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
  /** The newsletter's look (migration 0021, src/features/design/themes.ts); the CSS is stored sanitised. */
  theme: Generated<string>;
  accent_color: Generated<string>;
  palette: Generated<string>;
  font: Generated<string>;
  footer_text: Generated<string>;
  web_css: Generated<string>;
  email_css: Generated<string>;
  logo_file: Generated<string | null>;
  logo_width: Generated<number | null>;
  logo_height: Generated<number | null>;
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
