import { afterEach } from 'node:test';
import { simpleParser } from 'mailparser';
import type { TrackingMode } from '../../../src/db/tables/tracking.js';
import type { Dialect } from '../../../src/db/database.js';
import { buildTestApp, type TestApp } from '../../helpers/app.js';
import { addReaders, makeNewsletter, makePost, type Reader } from '../../sending/fixtures.js';

/** A newsletter with tracking in `mode`, readers, and a post sent through the real renderer to the dev outbox. */
export interface TrackingWorld {
  t: TestApp;
  newsletterId: number;
  readers: Reader[];
  postId: number;
  /** Each reader's HTML part as sent, by address. */
  html: Map<string, string>;
}

export const POST_BODY = [
  'Read [the report](https://example.org/report?a=1&b=2) and [the notes](https://example.org/notes).',
  '',
  'Also [the data](https://example.org/data) and <a href="https://example.org/private" data-gz-notrack>this one</a>,',
  'and [that one](https://example.org/skip?gz_notrack=1).',
].join('\n');

export async function trackingWorld(dialect: Dialect, mode: TrackingMode, o: { readers?: number; consenting?: number; env?: Record<string, string> } = {}): Promise<TrackingWorld> {
  const t = await buildTestApp(dialect, o.env ? { env: o.env } : {});
  const nl = await makeNewsletter(t.db.db, t.clock.now(), { tracking_mode: mode });
  const readers = await addReaders(t.db.db, nl.id, t.clock.now(), o.readers ?? 3);
  const consenting = readers.slice(0, o.consenting ?? 0).map((r) => r.id);
  if (consenting.length > 0) {
    await t.db.db.updateTable('subscriptions').set({ tracking_consent_at: t.clock.now() }).where('subscriber_id', 'in', consenting).execute();
  }
  const postId = await makePost(t.db.db, nl.id, t.clock.now(), { body: POST_BODY });
  await t.sending.startPost(postId);
  await t.sending.runOnce();
  const html = new Map<string, string>();
  for (const m of await t.devOutbox.list(100)) {
    const parsed = await simpleParser(m.raw);
    html.set(m.to_address, typeof parsed.html === 'string' ? parsed.html : '');
  }
  return { t, newsletterId: nl.id, readers, postId, html };
}

/** Every tracking URL path in a message: clicks (with the canary) and the pixel. */
export function trackingPaths(html: string): { clicks: string[]; canary: string; pixel: string } {
  const clicks = [...html.matchAll(/href="http:\/\/gazette\.test(\/c\/[^"]+)"/g)].map((m) => m[1]!);
  const canaryMatch = /<a href="http:\/\/gazette\.test(\/c\/[^"]+)" style="display:none/.exec(html);
  const pixel = /src="http:\/\/gazette\.test(\/o\/[^"]+)"/.exec(html)?.[1] ?? '';
  const canary = canaryMatch?.[1] ?? '';
  return { clicks: clicks.filter((c) => c !== canary), canary, pixel };
}

export const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

export function hit(t: TestApp, path: string, o: { ua?: string; ip?: string; method?: 'GET' | 'HEAD' } = {}) {
  return t.app.inject({ method: o.method ?? 'GET', url: path, headers: { 'user-agent': o.ua ?? BROWSER }, remoteAddress: o.ip ?? '198.51.100.7' });
}

export async function hits(t: TestApp) {
  await t.app.hitRecorder.flush(true);
  return t.db.db.selectFrom('tracking_hits').selectAll().orderBy('id').execute();
}

/** `world(mode, …)` for the tests of one suite: every world it made is closed after each test. */
export function worldsOf(dialect: Dialect): (mode: TrackingMode, o?: { readers?: number; consenting?: number }) => Promise<TrackingWorld> {
  const worlds: TrackingWorld[] = [];
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.t.close();
  });
  return async (mode, o) => {
    const w = await trackingWorld(dialect, mode, o);
    worlds.push(w);
    return w;
  };
}
