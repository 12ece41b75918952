import { createCompiledPosts } from './compiled-posts.js';
import type { ClaimedRow } from './delivery-transitions.js';
import type { DkimSigner } from './dkim-pool.js';
import type { CompiledMessage } from './message.js';
import type { Finished } from './outcomes.js';
import { createOutgoing, type Item } from './outgoing.js';
import type { Pacer } from './pacer.js';
import type { BulkTransport, SendOutcome } from './transport.js';

export interface SendBufferDeps {
  transport: BulkTransport;
  signer: () => DkimSigner | null;
  /** The post compiled once; rejects when it cannot be rendered (the post is then paused). */
  compiled: (postId: number) => Promise<CompiledMessage>;
  pacer: Pacer;
  /** A message's attempt ended. */
  finished(f: Finished): void;
  /** Something the send loop waits for happened (a compile, a signature, an answer). */
  notify(): void;
}

/**
 * The send loop's claimed rows, in order, from claim to send: each becomes a message (see outgoing.ts)
 * shortly before its tick, and leaves the buffer when a tick takes it or its post is forgotten.
 */
export interface SendBuffer {
  readonly length: number;
  /** Signing batches in flight. */
  readonly signing: number;
  add(rows: Array<{ row: ClaimedRow; newsletterId: number }>): void;
  /**
   * Renders the front of the buffer, then takes out the messages to send in this tick (at most
   * `allowance`) and those that cannot be sent (recorded without sending); the rest stays.
   */
  take(allowance: number, now: number): { take: Item[]; unsendable: Item[] };
  /** Items of a tick that did not commit, back in front. */
  putBack(items: Item[]): void;
  /** Sends a message whose marker is durable. */
  send(item: Item, now: number): void;
  /** A taken message that is not ours to send any more (skipped, or its post paused meanwhile). */
  drop(item: Item): void;
  /** Hands the next messages to the transport ahead of their tick. */
  prepareAhead(now: number): void;
  /** Drops the post's rows and its compiled message (it may be edited); returns the rows' ids. */
  forget(postId: number): number[];
  /** Empties the buffer; returns the ids of the rows it held (claimed, never attempted). */
  clear(): number[];
}

export function createSendBuffer(d: SendBufferDeps): SendBuffer {
  const { transport } = d;
  const concurrency = transport.concurrency;
  let ready: Item[] = [];

  const compiledPosts = createCompiledPosts(d.compiled, {
    failed(postId, err) {
      // Nobody's fault but the post's: its rows go back to the queue and the post is paused.
      const problem: SendOutcome = { kind: 'post', error: `This post could not be prepared for sending: ${err.message}` };
      for (const item of ready) if (item.row.postId === postId && !item.raw && !item.template) item.problem = problem;
    },
    settled: () => d.notify(),
  });
  const outgoing = createOutgoing({
    transport,
    signer: d.signer,
    compiledPosts,
    pacer: d.pacer,
    signAhead: Math.max(concurrency * 4, 32),
    // One message per connection handed to the transport before its tick (transport.prepare), so each
    // connection can have the next envelope out while the commit that marks it runs. They are only
    // claimed, not `attempting`: a crash re-queues them, and nothing of them was delivered.
    lookahead: transport.prepare ? concurrency : 0,
    finished: d.finished,
    notify: d.notify,
  });

  return {
    get length() {
      return ready.length;
    },
    get signing() {
      return outgoing.signing;
    },
    add(rows) {
      for (const r of rows) ready.push(r);
    },
    take(allowance, now) {
      outgoing.render(ready, allowance, now);
      const take: Item[] = [];
      const unsendable: Item[] = [];
      const keep: Item[] = [];
      for (const item of ready) {
        if (item.problem && !item.signing) {
          outgoing.unprepare(item);
          unsendable.push(item);
        } else if ((item.raw || item.template) && take.length < allowance) take.push(item);
        else keep.push(item);
      }
      ready = keep;
      return { take, unsendable };
    },
    putBack(items) {
      ready.unshift(...items);
    },
    send: outgoing.send,
    drop: outgoing.unprepare,
    prepareAhead(now) {
      outgoing.prepareAhead(ready, now);
    },
    forget(postId) {
      const dropped: number[] = [];
      ready = ready.filter((i) => {
        if (i.row.postId !== postId) return true;
        outgoing.unprepare(i);
        dropped.push(i.row.id);
        return false;
      });
      compiledPosts.forget(postId);
      return dropped;
    },
    clear() {
      const ids = ready.map((i) => i.row.id);
      for (const item of ready) outgoing.unprepare(item);
      ready = [];
      return ids;
    },
  };
}
