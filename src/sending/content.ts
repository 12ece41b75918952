import type { NewsletterRow } from '../db/tables/newsletters.js';
import type { PostRow } from '../db/tables/posts.js';

/** A post rendered once for sending: merge tags are still in place, to be filled per recipient. */
export type PostContent = { subject: string; html: string; text: string };

export type PostContentRenderer = (post: PostRow, newsletter: NewsletterRow) => Promise<PostContent>;
