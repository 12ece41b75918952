import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { migrateToLatest } from '../../src/db/migrate.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { createTestDb } from '../helpers/db.js';
import { freePort, startGazette, waitHealthy } from '../helpers/gazette-process.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost } from '../sending/fixtures.js';

/**
 * The middle of a rolling upgrade, for real: the previous release (the commit before the last one that
 * changed migrations/, taken from git) runs on Postgres, this release's migrations run under it, and the
 * old process keeps doing its basic work on the new schema: it answers, takes a sign-up, confirms it,
 * sends a post, and honours a one-click unsubscribe.
 */

const BASE_URL = 'http://gazette.test';

const git = (args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();

function hasHistory(): boolean {
  try {
    return git(['rev-parse', '--is-inside-work-tree']) === 'true';
  } catch {
    return false;
  }
}

/** The release running before the newest migration: HEAD while migrations/ has changes not committed yet. */
function previousRelease(): string {
  if (git(['status', '--porcelain', '--', 'migrations/']) !== '') return git(['rev-parse', 'HEAD']);
  const last = git(['log', '-1', '--format=%H', '--', 'migrations/']);
  return git(['rev-parse', '--verify', `${last}^`]);
}

/** A shallow clone (CI may fetch only the tip) has no previous release to run. */
function isShallow(): boolean {
  try {
    return git(['rev-parse', '--is-shallow-repository']) === 'true';
  } catch {
    return false;
  }
}

describe(
  'the previous release on this release\'s schema',
  { skip: (!process.env.TEST_DATABASE_URL && 'needs Postgres') || (!hasHistory() && 'not a git checkout') || (isShallow() && 'a shallow clone has no previous release (git fetch --unshallow)') },
  () => {
  it('answers, signs up, confirms, sends and unsubscribes after the new migrations ran under it', async () => {
    const rev = previousRelease();
    const root = mkdtempSync(path.join(os.tmpdir(), 'gazette-previous-'));
    const db = await createTestDb('postgres', { migrate: false });
    const relay = await startSmtpServer();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-previous-data-'));
    let old: ReturnType<typeof startGazette> | undefined;
    try {
      const tar = spawnSync('git', ['archive', '--format=tar', rev, 'package.json', 'tsconfig.json', 'src', 'migrations', 'views', 'public'], { cwd: PROJECT_ROOT, maxBuffer: 256 * 1024 * 1024 });
      assert.equal(tar.status, 0, String(tar.stderr));
      execFileSync('tar', ['-x', '-C', root], { input: tar.stdout });
      // Its dependencies are a subset of today's (packages are added, not swapped, within a release line).
      symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');

      const port = await freePort();
      old = startGazette(
        'server',
        { DATABASE_URL: db.url!, PORT: String(port), HOST: '127.0.0.1', BASE_URL, DATA_DIR: dataDir, SECRET_KEY: 'previous-release-secret-key-0123456789', SMTP_URL: relay.url, SMTP_POOL_SIZE: '2', LOG_LEVEL: 'warn', EMAIL_DNS_CHECK: 'off' },
        [],
        root,
      );
      await waitHealthy(old, port, 120_000);
      const applied = await migrateToLatest(db.db);
      const url = `http://127.0.0.1:${port}`;

      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200, `${rev.slice(0, 10)} after ${applied.join(', ') || 'no new migrations'}`);

      const newsletter = await makeNewsletter(db.db, Date.now());
      const signUp = await fetch(`${url}/n/${newsletter.slug}/subscribe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ email: 'newcomer@example.com' }),
      });
      assert.equal(signUp.status, 200, await signUp.text());
      await relay.waitUntil(() => relay.messages.some((m) => m.envelope.to.includes('newcomer@example.com')), 60_000, 'the confirmation mail');
      const confirmation = relay.messages.find((m) => m.envelope.to.includes('newcomer@example.com'))!;
      const confirmPath = /\/confirm\/[\w-]+/.exec(confirmation.parsed?.text ?? '')?.[0];
      assert.ok(confirmPath, 'the confirmation mail has its link');
      const confirmed = await fetch(`${url}${confirmPath}`, { method: 'POST' });
      assert.equal(confirmed.status, 200);
      const status = await db.db.selectFrom('subscriptions as s').innerJoin('subscribers as r', 'r.id', 's.subscriber_id').select('s.status').where('r.email', '=', 'newcomer@example.com').executeTakeFirstOrThrow();
      assert.equal(status.status, 'active');

      // A post falls due: the old process's scheduler starts it and sends it on the new schema.
      await addReaders(db.db, newsletter.id, Date.now(), 20, { prefix: 'old-reader-' });
      const postId = await makePost(db.db, newsletter.id, Date.now(), { status: 'scheduled', scheduled_at: Date.now() } as never);
      for (let i = 0; ; i++) {
        const post = await db.db.selectFrom('posts').select('status').where('id', '=', postId).executeTakeFirstOrThrow();
        if (post.status === 'sent') break;
        assert.ok(i < 600, `the post was not sent (it is ${post.status}):\n${old.output().slice(-2000)}`);
        await delay(100);
      }
      const postMail = relay.messages.filter((m) => m.parsed?.subject?.startsWith('Post '));
      assert.equal(postMail.length, 21);
      const sample = postMail.find((m) => m.envelope.to[0]!.startsWith('old-reader-'))!;
      const raw = sample.raw.toString('latin1');
      const header = /^List-Unsubscribe:(.*(?:\r\n[ \t].*)*)/im.exec(raw)?.[1]?.replace(/\r\n[ \t]/g, '') ?? '';
      const unsubscribePath = /\/unsubscribe\/[^>?\s]+(\?[^>\s]*)?/.exec(header)?.[0];
      assert.ok(unsubscribePath, header);
      const oneClick = await fetch(`${url}${unsubscribePath}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(oneClick.status, 200);
      const left = await db.db.selectFrom('subscriptions as s').innerJoin('subscribers as r', 'r.id', 's.subscriber_id').select('s.status').where('r.email', '=', sample.envelope.to[0]!).executeTakeFirstOrThrow();
      assert.equal(left.status, 'unsubscribed');

      old.child.kill('SIGTERM');
      assert.deepEqual(await old.exited, { code: 0, signal: null }, old.output().slice(-2000));
    } finally {
      if (old && old.child.exitCode === null && old.child.signalCode === null) old.child.kill('SIGKILL');
      await old?.exited;
      await relay.close();
      await db.drop();
      rmSync(root, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
