import type { Db } from '../db/database.js';
import { NotFoundError } from '../lib/errors.js';
import type { PostContentRenderer } from './content.js';
import { compileMessage, type CompiledMessage, type CompileSettings } from './message.js';
import { findPost, findPostNewsletter } from './repository.js';

/**
 * Each sending post's message, compiled once and shared by the send loop. A post that is paused or
 * cancelled (and so may be edited before it goes on), or that finished, is forgotten: compiled afresh
 * if it sends again. A compile that fails is not kept either.
 */
export interface PostMessages {
  /** Compiles the post now, without keeping the result (a start checks that the post can be built). */
  compile(postId: number): Promise<CompiledMessage>;
  /** The post's kept message, compiled on first use. */
  get(postId: number): Promise<CompiledMessage>;
  keep(postId: number, message: CompiledMessage): void;
  forget(postId: number): void;
}

export function createPostMessages(db: Db, renderer: PostContentRenderer, settings: CompileSettings): PostMessages {
  const compiled = new Map<number, Promise<CompiledMessage>>();

  async function compile(postId: number): Promise<CompiledMessage> {
    const post = await findPost(db, postId);
    if (!post) throw new NotFoundError('That post does not exist.');
    const newsletter = await findPostNewsletter(db, post);
    return compileMessage(post, newsletter, await renderer(post, newsletter), settings);
  }

  return {
    compile,
    get(postId) {
      let c = compiled.get(postId);
      if (!c) {
        c = compile(postId);
        c.catch(() => compiled.delete(postId));
        compiled.set(postId, c);
      }
      return c;
    },
    keep(postId, message) {
      compiled.set(postId, Promise.resolve(message));
    },
    forget(postId) {
      compiled.delete(postId);
    },
  };
}
