import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { saveTrackedLinks } from '../../src/domain/tracked-links-repository.js';
import { signToken, trackingKey } from '../../src/domain/tracking.js';
import { refreshStats } from '../../src/features/stats/rollups.js';
import { createPost, OWNER, type BenchDb } from './databases.js';
import { startServer } from './procs.js';
import { load, signIn, type WebResult } from './web.js';

/**
 * Issue 28's figures: the spike after a send (click redirects and open pixels under load, every hit
 * recorded by the group commit) and the stats page of a post sent to every subscriber of the bench
 * database, with a hit for each recipient and machine hits on top, after the roll-up job has run.
 */

export interface TrackingBenchResult {
  recipients: number;
  hitsInDatabase: number;
  rollupMs: number;
  click: WebResult;
  pixel: WebResult;
  /** Hits the server recorded from the two loads (all answered requests, the warm-up included). */
  recordedFromLoad: number;
  statsPage: { p50Ms: number; maxMs: number; samples: number };
}

export const SECRET = 'bench-tracking-secret-0123456789abcdef';
const LINKS = ['https://example.org/a', 'https://example.org/b', 'https://example.org/c', 'https://example.org/d'];

/** A sent post to every subscriber, its deliveries and links, and `perRecipient` hits each (a quarter machine). */
export async function sentPost(bench: BenchDb, perRecipient: number): Promise<{ postId: number; linkIds: number[] }> {
  const { db } = bench;
  const now = Date.now();
  await db.updateTable('newsletters').set({ tracking_mode: 'aggregate' }).where('id', '=', bench.newsletterId).execute();
  const postId = await createPost(db, bench.newsletterId);
  await db.updateTable('posts').set({ status: 'sent', started_at: now - 3_600_000, sent_at: now - 3_000_000 }).where('id', '=', postId).execute();
  await sql`insert into deliveries (post_id, subscriber_id, email, message_id, status, sent_at, updated_at)
    select ${postId}, s.id, s.email, '<' || s.id || '.bench@example.org>', 'sent', ${now - 3_000_000}, ${now}
    from subscriptions sn join subscribers s on s.id = sn.subscriber_id where sn.newsletter_id = ${bench.newsletterId}`.execute(db);
  const ids = await saveTrackedLinks(db, postId, LINKS, now);
  const linkIds = LINKS.map((u) => ids.get(u)!);
  for (let k = 0; k < perRecipient; k++) {
    // Spread over the first 72 hours; every fourth a machine.
    await sql`insert into tracking_hits (post_id, kind, link_id, verdict, created_at)
      select ${postId}, case when d.id % 2 = 0 then 'open' else 'click' end,
        case when d.id % 2 = 0 then null else ${linkIds[k % linkIds.length]!} end,
        case when d.id % 4 = 0 then 'apple_mpp' else 'human' end,
        ${now - 3_600_000} + (d.id * 7919 + ${k} * 104729) % 259200000
      from deliveries d where d.post_id = ${postId}`.execute(db);
  }
  return { postId, linkIds };
}

async function countHits(bench: BenchDb, postId: number): Promise<number> {
  const row = await bench.db.selectFrom('tracking_hits').select((eb) => eb.fn.countAll().as('n')).where('post_id', '=', postId).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function trackingBench(bench: BenchDb, o: { seconds: number; log: (line: string) => void }): Promise<TrackingBenchResult> {
  const { postId, linkIds } = await sentPost(bench, 2);
  const hitsInDatabase = await countHits(bench, postId);
  const t0 = performance.now();
  await refreshStats(bench.db, Date.now());
  const rollupMs = Math.round(performance.now() - t0);
  const recipients = Number((await bench.db.selectFrom('post_stats').select('recipients').where('post_id', '=', postId).executeTakeFirstOrThrow()).recipients);
  o.log(`tracking: ${recipients} recipients, ${hitsInDatabase} hits rolled up in ${rollupMs} ms`);

  const key = trackingKey(SECRET);
  const server = await startServer({ DATABASE_URL: bench.url, DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'gazette-bench-tracking-')), SECRET_KEY: SECRET });
  let click: WebResult;
  let pixel: WebResult;
  let statsPage: TrackingBenchResult['statsPage'];
  try {
    click = await load('click redirect', server.baseUrl, { condition: 'idle', seconds: o.seconds, slug: '', path: `/c/${signToken(key, 'l', linkIds[0]!)}`, expectStatus: 302 });
    pixel = await load('open pixel', server.baseUrl, { condition: 'idle', seconds: o.seconds, slug: '', path: `/o/${signToken(key, 'o', postId)}.gif`, expectStatus: 200 });
    const cookie = await signIn(server.baseUrl, OWNER.email, OWNER.password);
    const times: number[] = [];
    for (let i = 0; i < 25; i++) {
      const s = performance.now();
      const res = await fetch(`${server.baseUrl}/admin/posts/${postId}/stats`, { headers: { cookie } });
      await res.text();
      if (res.status !== 200) throw new Error(`stats page: ${res.status}`);
      if (i >= 5) times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    statsPage = { p50Ms: Math.round(times[Math.floor(times.length / 2)]!), maxMs: Math.round(times[times.length - 1]!), samples: times.length };
  } finally {
    // SIGTERM: the recorder's last buffered hits are written before the process exits.
    await server.stop();
  }
  const recordedFromLoad = (await countHits(bench, postId)) - hitsInDatabase;
  for (const r of [click, pixel]) o.log(`tracking: ${r.endpoint}: ${r.requestsPerSecond} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, unexpected ${r.non2xx}`);
  o.log(`tracking: ${recordedFromLoad} hits recorded from the loads; stats page p50 ${statsPage.p50Ms} ms, max ${statsPage.maxMs} ms`);
  return { recipients, hitsInDatabase, rollupMs, click, pixel, recordedFromLoad, statsPage };
}
