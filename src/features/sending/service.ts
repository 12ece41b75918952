import type { Db } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { PostRow } from '../../db/tables/posts.js';
import { NotFoundError } from '../../lib/errors.js';
import type { SendingEngine, SendProgress } from '../../sending/engine.js';
import { findNewsletterById } from '../newsletters/repository.js';
import { findPostById } from '../posts/repository.js';

export type SendingService = ReturnType<typeof createSendingService>;

/** The writer's controls over a send: what its progress page shows, and pause, resume, cancel and retry. */
export function createSendingService(deps: { db: Db; engine: SendingEngine }) {
  const { db, engine } = deps;
  return {
    async progress(postId: number): Promise<{ post: PostRow; newsletter: NewsletterRow | undefined; progress: SendProgress }> {
      const post = await findPostById(db, postId);
      if (!post) throw new NotFoundError('That post does not exist.');
      const [progress, newsletter] = await Promise.all([engine.progress(postId), findNewsletterById(db, post.newsletter_id)]);
      return { post, newsletter, progress };
    },
    pause: (postId: number) => engine.pausePost(postId),
    resume: (postId: number) => engine.resumePost(postId),
    cancel: (postId: number) => engine.cancelPost(postId),
    /** Queues unknown and/or failed recipients again; returns how many. */
    retry: (postId: number, statuses: Array<'unknown' | 'failed'>) => engine.retryRecipients(postId, statuses),
  };
}
