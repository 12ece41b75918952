import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { createTestDb } from '../helpers/db.js';
import { freePort, startGazette, waitHealthy, type GazetteProcess } from '../helpers/gazette-process.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { addReaders, makeNewsletter, makePost } from '../sending/fixtures.js';
import { startLoadBalancer } from './proxy.js';

/**
 * The rolling upgrade an operator does on Postgres: two Gazette processes behind one address are
 * replaced one at a time while a send runs and sign-ups keep arriving. Each old process is taken out of
 * the balancer, then sent SIGTERM: it finishes its requests and in-flight messages, hands its claimed
 * recipients back, and exits within the compose file's grace period. No request fails, and every
 * recipient gets the post exactly once.
 *
 * Real processes take their own time to start, so this test waits on them (polling /healthz and the
 * database). While a new process starts, the relay holds its answers to the post's messages: the send
 * stands still with messages in flight, so both replacements happen in the middle of it however slow the
 * machine is, and the answers go out as the old process is told to stop.
 */

const BASE_URL = 'http://gazette.test';
const SECRET_KEY = 'rolling-upgrade-secret-key-shared-by-every-process';
const RECIPIENTS = 2000;
/** Per process: bounds how far the send gets while an old process drains. */
const SEND_RATE = '50';
/** How long docker compose waits after SIGTERM before it kills the container (stop_grace_period). */
const GRACE_MS = Number(/stop_grace_period: (\d+)s/.exec(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.postgres.yml'), 'utf8'))?.[1]) * 1000;

interface Running extends GazetteProcess {
  port: number;
}

describe('rolling upgrade on Postgres', { skip: !process.env.TEST_DATABASE_URL }, () => {
  it('replaces both processes during a send and sign-ups: no failed request, every recipient once', async () => {
    assert.ok(GRACE_MS > 0, 'docker-compose.postgres.yml sets stop_grace_period');
    const db = await createTestDb('postgres');
    const relay = await startSmtpServer({ parse: false });
    let hold: Promise<void> | undefined;
    let letGo = () => {};
    const isPost = (to: string | undefined) => to?.startsWith('reader-') === true;
    relay.respond.onData = async (_raw, envelope) => {
      if (isPost(envelope.to[0])) await hold;
      return undefined;
    };
    const balancer = await startLoadBalancer();
    const dataDirs: string[] = [];
    const running: Running[] = [];
    let stopLoad = false;
    try {
      const newsletter = await makeNewsletter(db.db, Date.now());
      const readers = await addReaders(db.db, newsletter.id, Date.now(), RECIPIENTS, { prefix: 'reader-' });
      const postId = await makePost(db.db, newsletter.id, Date.now(), { status: 'scheduled', scheduled_at: Date.now() } as never);

      const launch = async (): Promise<Running> => {
        const port = await freePort();
        const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-upgrade-'));
        dataDirs.push(dataDir);
        const p = startGazette('server', {
          DATABASE_URL: db.url!,
          PORT: String(port),
          HOST: '127.0.0.1',
          BASE_URL,
          DATA_DIR: dataDir,
          SECRET_KEY,
          SMTP_URL: relay.url,
          SMTP_POOL_SIZE: '2',
          SEND_RATE,
          LOG_LEVEL: 'warn',
          // Every sign-up comes from 127.0.0.1 and is a stranger to DNS: the defences would rightly stop it.
          EMAIL_DNS_CHECK: 'off',
          SUBSCRIBE_RATE_LIMIT: '100000',
          SIGNUP_ATTACK_THRESHOLD: '1000000',
        });
        const proc = { ...p, port };
        running.push(proc);
        await waitHealthy(proc, port, 120_000);
        return proc;
      };
      const postMessages = () => relay.messages.filter((m) => isPost(m.envelope.to[0])).length;

      const [a, b] = await Promise.all([launch(), launch()]);
      balancer.backends.add(a!.port);
      balancer.backends.add(b!.port);

      // Sign-ups through the balancer, two at a time, from before the first replacement to after the last.
      const signups = { ok: [] as string[], failed: [] as string[] };
      const signupLoop = async (k: number) => {
        for (let i = 0; !stopLoad; i++) {
          const email = `signup-${k}-${i}@example.com`;
          try {
            const res = await fetch(`${balancer.url}/n/${newsletter.slug}/subscribe`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', accept: 'application/json' },
              body: JSON.stringify({ email }),
            });
            const body = await res.text();
            if (res.status === 200) signups.ok.push(email);
            else signups.failed.push(`${email}: ${res.status} ${body.slice(0, 200)}`);
          } catch (err) {
            signups.failed.push(`${email}: ${(err as Error).message}`);
          }
          await delay(400); // a steady trickle, not a benchmark
        }
      };
      const load = Promise.all([signupLoop(1), signupLoop(2)]);

      await relay.waitUntil(() => postMessages() >= 100, 120_000, 'the send to be under way');
      const progressAtStop: number[] = [];
      for (const old of [a!, b!]) {
        hold = new Promise<void>((resolve) => (letGo = resolve));
        const fresh = await launch();
        balancer.backends.add(fresh.port);
        balancer.backends.delete(old.port);
        progressAtStop.push(postMessages());
        old.child.kill('SIGTERM');
        hold = undefined;
        letGo();
        const exit = await Promise.race([old.exited, delay(GRACE_MS, 'still running' as const)]);
        assert.notEqual(exit, 'still running', `SIGTERM did not end the process within the grace period:\n${old.output().slice(-2000)}`);
        assert.deepEqual(exit, { code: 0, signal: null }, old.output().slice(-2000));
        // It handed back every recipient it had claimed and not sent.
        const held = await db.db
          .selectFrom('deliveries')
          .select('id')
          .where('claimed_by', 'like', `%:${old.child.pid}:%`)
          .where('status', 'in', ['claimed', 'attempting'])
          .execute();
        assert.equal(held.length, 0, 'claims left behind by the stopped process');
      }
      assert.ok(progressAtStop.every((n) => n < RECIPIENTS), `the send had finished before the processes were replaced (${progressAtStop.join(', ')} sent)`);
      // The upgrade is over: the sign-ups have seen it through.
      stopLoad = true;
      await load;

      for (let i = 0; ; i++) {
        const post = await db.db.selectFrom('posts').select('status').where('id', '=', postId).executeTakeFirstOrThrow();
        if (post.status === 'sent') break;
        assert.ok(i < 1200, `the send did not finish (post is ${post.status}, ${postMessages()} messages)`);
        await delay(100);
      }
      console.log(`rolling upgrade: ${signups.ok.length} sign-ups, ${postMessages()} post messages, sent when each process was stopped: ${progressAtStop.join(', ')}`);

      assert.deepEqual(signups.failed, []);
      assert.deepEqual(balancer.failures, []);
      assert.ok(signups.ok.length > 0);
      const stored = new Set((await db.db.selectFrom('subscribers').select('email').where('email', 'like', 'signup-%').execute()).map((r) => r.email));
      assert.deepEqual(signups.ok.filter((e) => !stored.has(e)), [], 'every accepted sign-up is stored');

      const perRecipient = new Map<string, number>();
      for (const m of relay.messages) for (const to of m.envelope.to) if (to.startsWith('reader-')) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
      assert.deepEqual([...perRecipient].filter(([, n]) => n !== 1), [], 'recipients sent more than once');
      assert.deepEqual(readers.filter((r) => !perRecipient.has(r.email)).map((r) => r.email), [], 'recipients never sent');
      const statuses = await db.db.selectFrom('deliveries').select('status').where('post_id', '=', postId).execute();
      assert.deepEqual([...new Set(statuses.map((s) => s.status))], ['sent']);
    } finally {
      letGo();
      stopLoad = true;
      for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      await Promise.all(running.map((p) => p.exited));
      await balancer.close();
      await relay.close();
      await db.drop();
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
