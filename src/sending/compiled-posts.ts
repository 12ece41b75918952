import type { CompiledMessage } from './message.js';

/**
 * The send loop's compiled posts, by post id: compiled once, on first use, in the background. A post
 * forgotten while it compiles (paused, edited) is compiled afresh next time: `epochs` tells the stale
 * result apart.
 */
export interface CompiledPosts {
  /** The post's compiled message, or undefined while it is being compiled (`settled` is called then). */
  get(postId: number): CompiledMessage | undefined;
  forget(postId: number): void;
}

export function createCompiledPosts(
  compile: (postId: number) => Promise<CompiledMessage>,
  events: { failed(postId: number, err: Error): void; settled(): void },
): CompiledPosts {
  const done = new Map<number, CompiledMessage>();
  const compiling = new Set<number>();
  const epochs = new Map<number, number>();
  return {
    get(postId) {
      const at = done.get(postId);
      if (at || compiling.has(postId)) return at;
      compiling.add(postId);
      const epoch = epochs.get(postId) ?? 0;
      compile(postId)
        .then(
          (compiled) => {
            if ((epochs.get(postId) ?? 0) === epoch) done.set(postId, compiled);
          },
          (err: unknown) => events.failed(postId, err as Error),
        )
        .finally(() => {
          compiling.delete(postId);
          events.settled();
        });
      return undefined;
    },
    forget(postId) {
      done.delete(postId);
      epochs.set(postId, (epochs.get(postId) ?? 0) + 1);
    },
  };
}
