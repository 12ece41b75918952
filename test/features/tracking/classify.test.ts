import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HitVerdict } from '../../../src/db/tables/tracking.js';
import { BURST_LINKS, BURST_WINDOW_MS, CANARY_WINDOW_MS, HitContext, PREFETCH_WINDOW_MS, type ContextHit } from '../../../src/features/tracking/classify.js';

/**
 * The context rules answer from indexes (binary searches over each message's recent times) instead of
 * walking every recent hit of the same address, which made a spike from one address quadratic. These
 * tests hold them to the plain definition of each rule, written out below as a walk over every hit.
 */

const sourceOf = (h: ContextHit) => (h.deliveryId !== null ? `${h.postId}:d${h.deliveryId}` : `${h.postId}:${h.ip}`);

function plainVerdict(hit: ContextHit, around: ContextHit[], sentAt: number | null): HitVerdict {
  const canaryNear = around.some(
    (o) => o.kind === 'canary' && (o.ip === hit.ip || (hit.deliveryId !== null && o.deliveryId === hit.deliveryId)) && Math.abs(o.at - hit.at) <= CANARY_WINDOW_MS,
  );
  if (canaryNear) return 'canary';
  if (hit.kind !== 'click') return 'human';
  const same = around.filter((o) => sourceOf(o) === sourceOf(hit));
  const links = new Set(same.filter((o) => o.kind === 'click' && o.linkId !== null && Math.abs(o.at - hit.at) <= BURST_WINDOW_MS).map((o) => o.linkId));
  if (links.size >= BURST_LINKS) return 'scanner_burst';
  const opened = same.some((o) => o.kind === 'open' && o.at <= hit.at);
  if (sentAt !== null && hit.at - sentAt < PREFETCH_WINDOW_MS && !opened) return 'prefetch_window';
  return 'human';
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('hit context rules', () => {
  it('agree with the plain definition of every rule over random traffic, as hits age out by time and by count', () => {
    const maxHits = 400;
    const rnd = random(28);
    const context = new HitContext(maxHits);
    let remembered: ContextHit[] = [];
    let now = 1_000_000;
    const sentAt = (deliveryId: number) => 1_000_000 + deliveryId * 3_000;
    let judgedNonHuman = 0;
    for (let round = 0; round < 150; round++) {
      // Hits come in time order, mostly seconds apart, sometimes a jump past the canary window so the old hits leave by time.
      now += rnd() < 0.05 ? CANARY_WINDOW_MS + 1 : Math.floor(rnd() * 4_000);
      const batch: ContextHit[] = [];
      for (let i = 0, n = 1 + Math.floor(rnd() * 12); i < n; i++) {
        const r = rnd();
        const kind = r < 0.05 ? 'canary' : r < 0.35 ? 'open' : 'click';
        now += Math.floor(rnd() * 300);
        batch.push({
          at: now,
          postId: 1 + Math.floor(rnd() * 2),
          kind,
          linkId: kind === 'click' ? 1 + Math.floor(rnd() * 5) : null,
          deliveryId: rnd() < 0.5 ? null : 1 + Math.floor(rnd() * 6),
          ip: `192.0.2.${1 + Math.floor(rnd() * 3)}`,
        });
      }
      const expected = batch.map((h) => plainVerdict(h, [...remembered, ...batch], h.deliveryId === null ? null : sentAt(h.deliveryId)));
      assert.deepEqual(context.judge(batch, sentAt), expected, `round ${round}`);
      judgedNonHuman += expected.filter((v) => v !== 'human').length;
      const last = batch[batch.length - 1]!.at;
      context.remember(batch, last);
      remembered = remembered.concat(batch).filter((h) => h.at >= last - CANARY_WINDOW_MS).slice(-maxHits);
    }
    // The traffic exercised the rules rather than calling everything human.
    assert.ok(judgedNonHuman > 100, `only ${judgedNonHuman} machine verdicts`);
  });

  it('tells a burst from a spike on one link when one address has sent tens of thousands of clicks', () => {
    const context = new HitContext();
    const ip = '203.0.113.9';
    const click = (at: number, linkId: number): ContextHit => ({ at, postId: 7, kind: 'click', linkId, deliveryId: null, ip });
    const spike: ContextHit[] = [];
    for (let i = 0; i < 50_000; i++) spike.push(click(i, 1));
    assert.deepEqual(new Set(context.judge(spike, () => null)), new Set(['human']));
    context.remember(spike, 50_000);
    // Two more links within the window of the last clicks on link 1: three links, a scanner.
    assert.deepEqual(context.judge([click(50_500, 2), click(50_600, 3)], () => null), ['scanner_burst', 'scanner_burst']);
    // Later than the window of every click on link 1: alone again.
    assert.deepEqual(context.judge([click(60_000, 2), click(60_100, 3)], () => null), ['human', 'human']);
  });
});
