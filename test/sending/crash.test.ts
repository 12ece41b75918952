import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { connectDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { addReaders, makeNewsletter, makePost } from './fixtures.js';

/**
 * The crash promise, shown with real processes: a sender (the real engine on a SQLite file) sends to
 * an SMTP sink in another process and is killed with SIGKILL at random moments, several times, then
 * restarted until the post is sent. Then everything is counted: no recipient lost, none received
 * twice, and after each kill at most SMTP_POOL_SIZE recipients left `unknown`.
 */

const RECIPIENTS = 1200;
const POOL = 4;
const KILLS = 5;
const here = path.dirname(new URL(import.meta.url).pathname);

function spawnTs(file: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stdout: ${out} stderr: ${err}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern}; stdout: ${out} stderr: ${err}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

describe('kill -9 during a real send', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-crash-'));
  const dbFile = path.join(dir, 'gazette.db');
  const sinkFile = path.join(dir, 'received.tsv');
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it(`loses nobody, duplicates nobody, and leaves at most ${POOL} unknown per kill`, { timeout: 90_000 }, async () => {
    // The database the sender will find: a newsletter, its readers and a draft post.
    const setup = await connectDatabase({ kind: 'sqlite', file: dbFile });
    await migrateToLatest(setup.db);
    const now = Date.now();
    const nl = await makeNewsletter(setup.db, now);
    await addReaders(setup.db, nl.id, now, RECIPIENTS);
    const postId = await makePost(setup.db, nl.id, now);
    await setup.close();

    const sink = spawnTs(path.join(here, 'fixtures/sink.ts'), [sinkFile]);
    children.push(sink);
    const port = Number((await waitForLine(sink, /listening (\d+)/))[1]);
    const env = {
      DATABASE_URL: `sqlite:${dbFile}`,
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      SMTP_POOL_SIZE: String(POOL),
      BASE_URL: 'https://news.example.com',
      LOG_LEVEL: 'silent',
      POST_ID: String(postId),
    };

    const inDoubtPerKill: number[] = [];
    const receivedAtKill: number[] = [];
    const receivedNow = () => (existsSync(sinkFile) ? readFileSync(sinkFile, 'utf8').split('\n').filter(Boolean).length : 0);
    for (let kill = 0; kill < KILLS; kill++) {
      const sender = spawnTs(path.join(here, 'fixtures/send-worker.ts'), [], env);
      children.push(sender);
      const done = exited(sender);
      await waitForLine(sender, /ready/);
      // Kill at a random moment once this sender is really sending (its messages reach the sink).
      const before = receivedNow();
      while (receivedNow() === before && sender.exitCode === null) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      if (sender.exitCode !== null) break; // it finished the whole send first
      sender.kill('SIGKILL');
      await done;
      // What the killed sender left in flight: these, and only these, may end up unknown.
      const db = await connectDatabase({ kind: 'sqlite', file: dbFile });
      const rows = await db.db.selectFrom('deliveries').select('status').where('post_id', '=', postId).where('status', '=', 'attempting').execute();
      await db.close();
      inDoubtPerKill.push(rows.length);
      receivedAtKill.push(receivedNow());
    }

    const last = spawnTs(path.join(here, 'fixtures/send-worker.ts'), [], env);
    children.push(last);
    await waitForLine(last, /done/, 60_000);
    assert.equal(await exited(last), 0);

    const db = await connectDatabase({ kind: 'sqlite', file: dbFile });
    const deliveries = await db.db.selectFrom('deliveries').select(['email', 'status', 'message_id']).where('post_id', '=', postId).execute();
    const post = await db.db.selectFrom('posts').select('status').where('id', '=', postId).executeTakeFirstOrThrow();
    await db.close();

    const received = new Map<string, string[]>();
    for (const line of readFileSync(sinkFile, 'utf8').split('\n').filter(Boolean)) {
      const [email, messageId] = line.split('\t') as [string, string];
      received.set(email, [...(received.get(email) ?? []), messageId]);
    }
    const byStatus: Record<string, number> = {};
    for (const d of deliveries) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
    const duplicated = [...received].filter(([, ids]) => ids.length > 1);
    const lost = deliveries.filter((d) => d.status !== 'sent' && d.status !== 'unknown');
    const unknownDelivered = deliveries.filter((d) => d.status === 'unknown' && received.has(d.email)).length;

    console.log(
      `kill -9 harness: ${KILLS} kills, in flight at each kill ${JSON.stringify(inDoubtPerKill)}, ` +
        `received by the sink at each kill ${JSON.stringify(receivedAtKill)}; final ${JSON.stringify(byStatus)}, ` +
        `${received.size} distinct recipients received, ${duplicated.length} duplicated, ${lost.length} lost, ` +
        `${unknownDelivered} of the unknown did reach the sink`,
    );

    assert.equal(deliveries.length, RECIPIENTS, 'the snapshot holds every reader once');
    assert.equal(post.status, 'sent');
    assert.deepEqual(lost, [], 'every recipient ends sent or unknown');
    assert.deepEqual(duplicated, [], 'nobody received the post twice');
    for (const d of deliveries) {
      if (d.status === 'sent') assert.deepEqual(received.get(d.email), [d.message_id], `${d.email} received once, with its Message-ID`);
      else assert.ok((received.get(d.email)?.length ?? 0) <= 1);
    }
    for (const n of inDoubtPerKill) assert.ok(n <= POOL, `at most ${POOL} in flight at a kill (saw ${n})`);
    assert.ok(inDoubtPerKill.length >= 3, `killed mid-send ${inDoubtPerKill.length} times`);
    assert.ok((byStatus.unknown ?? 0) <= POOL * inDoubtPerKill.length, `unknown ${byStatus.unknown} ≤ ${POOL} × ${inDoubtPerKill.length}`);
    assert.equal(byStatus.unknown ?? 0, inDoubtPerKill.reduce((a, b) => a + b, 0), 'exactly the rows in flight at the kills became unknown');
    assert.ok(receivedAtKill.some((n) => n > 0 && n < RECIPIENTS), 'at least one kill landed mid-send');
    sink.kill('SIGKILL');
  });
});
