import type { NewsletterRow } from '../db/tables/newsletters.js';
import type { PostRow } from '../db/tables/posts.js';

/**
 * A post rendered once for sending: merge tags are still in place, to be filled per recipient. `tracking`
 * is set when the HTML carries per-subscriber tracking URLs (src/domain/tracking.ts): each consenting
 * recipient's personal token is signed with `key` and filled into the `tracking_id` merge field.
 */
export type PostContent = {
  subject: string;
  html: string;
  text: string;
  /**
   * Set when the post has a paywall: the body a recipient with paid access gets instead of `html` and
   * `text` (the whole post, without the teaser and link; see src/domain/paywall.ts and Recipient.paidAccess).
   */
  full?: { html: string; text: string } | undefined;
  tracking?: PersonalTracking | undefined;
  returnPath?: ReturnPath | undefined;
};

/**
 * VERP: when set, each message's envelope sender (MAIL FROM) is `<localPart><delimiter><token>@<domain>`
 * with its delivery's token (src/lib/verp.ts), so a bounce that quotes nothing still names its delivery.
 */
export interface ReturnPath {
  localPart: string;
  domain: string;
  delimiter: '+' | '-';
  /** Signs the tokens; the bounce mailbox checks them with the same secret. */
  secret: string;
}

export interface PersonalTracking {
  key: string;
  postId: number;
}

export type PostContentRenderer = (post: PostRow, newsletter: NewsletterRow) => Promise<PostContent>;
