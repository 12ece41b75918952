import type { CompiledPosts } from './compiled-posts.js';
import type { ClaimedRow } from './delivery-transitions.js';
import type { DkimSigner } from './dkim-pool.js';
import { assemble, type MessageTemplate } from './message.js';
import type { Finished } from './outcomes.js';
import type { Pacer } from './pacer.js';
import type { BulkTransport, OutgoingRaw, OutgoingTemplated, Prepared, SendOutcome } from './transport.js';

/** A claimed row in the send loop's buffer, on its way to becoming a message. */
export interface Item {
  row: ClaimedRow;
  newsletterId: number;
  from?: string;
  subject?: string;
  raw?: Buffer;
  /** Rendered by the transport where it sends (see BulkTransport.sendTemplated) instead of `raw`. */
  template?: MessageTemplate;
  /** Handed to the DKIM signer; `raw` arrives with the signature. */
  signing?: boolean;
  /** Set when the message could not be built for this recipient: recorded without sending. */
  problem?: SendOutcome;
  /** Handed to the transport ahead (its envelope may be out already); goes when released. */
  prepared?: Prepared;
}

export interface OutgoingDeps {
  transport: BulkTransport;
  signer: () => DkimSigner | null;
  compiledPosts: CompiledPosts;
  pacer: Pacer;
  /** With DKIM, this many messages are signed ahead of the free connections. */
  signAhead: number;
  /** Messages handed to the transport before their tick (see createPipeline). */
  lookahead: number;
  /** A message's attempt ended. */
  finished(f: Finished): void;
  /** Something the send loop waits for happened (a signature, an answer). */
  notify(): void;
}

/**
 * The send loop's messages between the buffer and the relay: rendered (or signed) just before the tick
 * that marks them, handed to the transport ahead of it when the transport can take them early, and
 * sent once marked. Only a handful of rendered messages exist at any time.
 */
export interface Outgoing {
  /**
   * Renders the front of the buffer: as many messages as may be sent now, or with DKIM on, enough to
   * keep `signAhead` signed or being signed (the signatures come from worker threads).
   */
  render(ready: Item[], allowance: number, now: number): void;
  /** Hands the next messages to the transport ahead of their tick (see `lookahead`). */
  prepareAhead(ready: Item[], now: number): void;
  /** Takes back a message handed ahead (its row is not ours to send any more). */
  unprepare(item: Item): void;
  /** Sends a message whose marker is durable; its outcome comes back through `finished`. */
  send(item: Item, now: number): void;
  /** Signing batches in flight. */
  readonly signing: number;
}

export function createOutgoing(d: OutgoingDeps): Outgoing {
  const { transport, compiledPosts, pacer, signAhead, lookahead, notify } = d;
  let preparedCount = 0;
  let signing = 0;

  function render(ready: Item[], allowance: number, now: number): void {
    const signer = d.signer();
    const want = signer ? signAhead : allowance + lookahead;
    const toSign: Array<{ item: Item; headers: string; body: string }> = [];
    let inHand = 0;
    for (const item of ready) {
      if (inHand >= want) break;
      if (item.problem) continue;
      if (item.raw || item.template || item.signing) {
        inHand += 1;
        continue;
      }
      const compiled = compiledPosts.get(item.row.postId);
      if (!compiled) continue;
      inHand += 1;
      item.from = compiled.envelopeFor(item.row.id);
      if (!signer && transport.sendTemplated) {
        // The transport renders it where it sends it: nothing to build here.
        item.template = compiled.template;
        continue;
      }
      try {
        const m = compiled.render(item.row, now);
        item.subject = m.subject;
        if (signer) {
          item.signing = true;
          toSign.push({ item, headers: m.headers, body: m.body });
        } else item.raw = assemble(m);
      } catch (err) {
        item.problem = { kind: 'failed', error: `Could not build this message: ${(err as Error).message}`, suppress: false };
      }
    }
    if (!signer || toSign.length === 0) return;
    signing += 1;
    signer
      .sign(toSign, Math.floor(now / 1000))
      .then(
        (lines) => toSign.forEach((r, i) => (r.item.raw = assemble(r, lines[i]))),
        (err: unknown) => {
          // Not the recipient's fault: put the rows back and stop this post until someone looks.
          for (const r of toSign) r.item.problem = { kind: 'post', error: `DKIM signing failed: ${(err as Error).message}` };
        },
      )
      .finally(() => {
        for (const r of toSign) r.item.signing = false;
        signing -= 1;
        notify();
      });
  }

  function outgoing(item: Item, now: number): OutgoingRaw | OutgoingTemplated {
    const { row } = item;
    return item.template
      ? {
          from: item.from!,
          template: item.template,
          recipient: { email: row.email, name: row.name, attributes: row.attributes, token: row.token, messageId: row.messageId, trackAs: row.trackAs, paidAccess: row.paidAccess },
          date: now,
        }
      : { from: item.from!, to: row.email, raw: item.raw!, messageId: row.messageId, subject: item.subject ?? '' };
  }

  function send(item: Item, now: number): void {
    pacer.take();
    const startedAt = performance.now();
    let sending: Promise<SendOutcome>;
    if (item.prepared) {
      preparedCount -= 1;
      sending = item.prepared.release();
      item.prepared = undefined;
    } else {
      const m = outgoing(item, now);
      sending = 'template' in m ? transport.sendTemplated!(m) : transport.send(m);
    }
    sending
      .catch((err: unknown): SendOutcome => ({ kind: 'retry', error: `internal error: ${(err as Error).message}` }))
      .then((outcome) => d.finished({ row: item.row, newsletterId: item.newsletterId, outcome, occupied: true, startedAt }));
  }

  function prepareAhead(ready: Item[], now: number): void {
    if (lookahead === 0) return;
    for (const item of ready) {
      if (preparedCount >= lookahead) return;
      if (item.prepared || item.problem || item.signing || !(item.raw || item.template)) continue;
      item.prepared = transport.prepare!(outgoing(item, now));
      preparedCount += 1;
    }
  }

  function unprepare(item: Item): void {
    if (!item.prepared) return;
    item.prepared.cancel();
    item.prepared = undefined;
    preparedCount -= 1;
  }

  return {
    render,
    prepareAhead,
    unprepare,
    send,
    get signing() {
      return signing;
    },
  };
}
