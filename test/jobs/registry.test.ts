import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import cron from 'node-cron';
import { connectDatabase, type DbHandle } from '../../src/db/connect.js';
import { createJobRegistry, type JobDefinition, type JobRegistry } from '../../src/jobs/registry.js';
import { createTestDb, DIALECTS, type TestDb } from '../helpers/db.js';
import { FakeClock } from '../helpers/clock.js';

/** A promise the test settles by hand: a job "still running" for as long as the test wants. */
function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const SECOND = 1000;
/** 2026-11-22 12:00:00 UTC, the FakeClock's start: a tick of every schedule used here. */
const NOON = Date.UTC(2026, 10, 22, 12, 0, 0);

async function runsOf(db: TestDb['db'], job: string) {
  return db.selectFrom('job_runs').selectAll().where('job', '=', job).orderBy('id').execute();
}

for (const dialect of DIALECTS) {
  describe(`job registry (${dialect})`, () => {
    let t: TestDb;
    let registry: JobRegistry;
    const clock = new FakeClock(NOON);
    afterEach(async () => {
      await registry?.stop();
      await t?.drop();
    });

    const build = async (jobs: JobDefinition[], keepRuns?: number) => {
      t = await createTestDb(dialect);
      clock.set(NOON);
      registry = createJobRegistry({ db: t.db, dialect, clock, ...(keepRuns ? { keepRuns } : {}) });
      for (const job of jobs) registry.register(job);
    };

    it('runs a job at its ticks only and records start, duration and outcome', async () => {
      let runs = 0;
      await build([
        {
          name: 'every-minute',
          schedule: '* * * * *',
          description: 'test',
          run: async () => {
            runs += 1;
            clock.advance(1500);
          },
        },
      ]);
      assert.deepEqual([...(await registry.runDue(NOON + 30 * SECOND))], [], 'half past the minute is no tick');
      const results = await registry.runDue(NOON + 60 * SECOND);
      assert.equal(results.get('every-minute')?.outcome, 'ok');
      assert.equal(runs, 1);
      const [row] = await runsOf(t.db, 'every-minute');
      assert.equal(row?.status, 'ok');
      assert.equal(row?.trigger, 'schedule');
      assert.equal(Number(row?.scheduled_for), NOON + 60 * SECOND);
      assert.equal(Number(row?.started_at), NOON);
      assert.equal(Number(row?.duration_ms), 1500);
      assert.equal(Number(row?.finished_at), NOON + 1500);
      assert.equal(row?.error, null);
      assert.equal(registry.nextRun('every-minute', NOON + 61 * SECOND), NOON + 120 * SECOND);
    });

    it('records a failure with its message, and the next run goes on', async () => {
      let fail = true;
      await build([
        {
          name: 'flaky',
          schedule: '*/15 * * * * *',
          description: 'test',
          run: async () => {
            if (fail) throw new Error('the relay said no');
          },
        },
      ]);
      const first = await registry.runDue(NOON);
      assert.deepEqual(first.get('flaky'), { outcome: 'error', runId: (await runsOf(t.db, 'flaky'))[0]!.id, error: 'the relay said no' });
      fail = false;
      assert.equal((await registry.runDue(NOON + 15 * SECOND)).get('flaky')?.outcome, 'ok');
      assert.deepEqual(
        (await runsOf(t.db, 'flaky')).map((r) => [r.status, r.error]),
        [
          ['error', 'the relay said no'],
          ['ok', null],
        ],
      );
    });

    it('does not start a run while the last one is still going, and runs a tick only once', async () => {
      const gate = deferred();
      let started = 0;
      await build([
        {
          name: 'slow',
          schedule: '*/5 * * * * *',
          description: 'test',
          run: async () => {
            started += 1;
            await gate.promise;
          },
        },
      ]);
      const first = registry.runDue(NOON);
      await waitFor(async () => (await runsOf(t.db, 'slow')).length === 1);
      assert.deepEqual((await registry.runDue(NOON + 5 * SECOND)).get('slow'), { outcome: 'skipped', reason: 'running' });
      assert.deepEqual(await registry.runOnce('slow'), { outcome: 'skipped', reason: 'running' });
      assert.equal(await registry.trigger('slow'), false);
      assert.equal((await runsOf(t.db, 'slow'))[0]?.status, 'running', 'the page can show it running');
      gate.resolve();
      assert.equal((await first).get('slow')?.outcome, 'ok');
      assert.equal(started, 1);
      assert.equal((await runsOf(t.db, 'slow')).length, 1, 'a skipped tick leaves no row');

      // The same tick seen again (a second process, or a timer firing twice) is not run again.
      assert.deepEqual((await registry.runDue(NOON)).get('slow'), { outcome: 'skipped', reason: 'ran-elsewhere' });
      assert.equal((await registry.runDue(NOON + 10 * SECOND)).get('slow')?.outcome, 'ok');
      assert.equal(started, 2);
    });

    it('keeps only the latest runs of each job', async () => {
      await build(
        [
          { name: 'a', schedule: '* * * * *', description: 'test', run: async () => {} },
          { name: 'b', schedule: '* * * * *', description: 'test', run: async () => {} },
        ],
        3,
      );
      await registry.runOnce('b');
      for (let i = 0; i < 5; i++) await registry.runOnce('a');
      const kept = await runsOf(t.db, 'a');
      assert.equal(kept.length, 3);
      assert.ok(kept.every((r) => r.trigger === 'manual' && r.scheduled_for === null && r.status === 'ok'));
      assert.equal((await runsOf(t.db, 'b')).length, 1, 'other jobs keep theirs');
      const all = await t.db.selectFrom('job_runs').select('id').orderBy('id').execute();
      assert.deepEqual(
        all.map((r) => r.id),
        [1, 4, 5, 6],
        'the oldest runs of a went',
      );
    });

    it('keeps one row for the runs that found nothing to do, and every run that did something', async () => {
      const plan = ['idle', 'idle', 'work', 'idle', 'fail', 'idle', 'idle'];
      await build([
        {
          name: 'poll',
          schedule: '* * * * *',
          description: 'test',
          run: async () => {
            const next = plan.shift();
            if (next === 'fail') throw new Error('mailbox unreachable');
            return next === 'idle' ? 'idle' : undefined;
          },
        },
      ]);
      for (let minute = 1; minute <= 7; minute++) assert.equal((await registry.runDue(NOON + minute * 60 * SECOND)).get('poll')?.outcome, minute === 5 ? 'error' : 'ok');
      const kept = await runsOf(t.db, 'poll');
      assert.deepEqual(
        kept.map((r) => [r.status, (Number(r.scheduled_for) - NOON) / 60 / SECOND]),
        [
          ['ok', 3],
          ['error', 5],
          ['idle', 7],
        ],
      );
    });

    it('marks a run left running by a process that stopped as interrupted at the next run', async () => {
      await build([{ name: 'chore', schedule: '* * * * *', description: 'test', run: async () => {} }]);
      await t.db
        .insertInto('job_runs')
        .values({ job: 'chore', trigger: 'schedule', scheduled_for: NOON - 60 * SECOND, status: 'running', runner: 'gone:1', started_at: NOON - 60 * SECOND })
        .execute();
      await registry.runOnce('chore');
      assert.deepEqual(
        (await runsOf(t.db, 'chore')).map((r) => r.status),
        ['interrupted', 'ok'],
      );
    });

    it('stop waits for the running job and starts nothing after', async () => {
      const gate = deferred();
      let finished = false;
      await build([
        {
          name: 'long',
          schedule: '* * * * *',
          description: 'test',
          run: async () => {
            await gate.promise;
            finished = true;
          },
        },
      ]);
      registry.start();
      assert.ok([...cron.getTasks().values()].some((task) => task.name === 'gazette:long'), 'scheduled on node-cron');
      void registry.runOnce('long');
      await waitFor(async () => (await runsOf(t.db, 'long')).length === 1);
      let stopped = false;
      const stopping = registry.stop().then(() => (stopped = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(stopped, false, 'stop waits for the run');
      gate.resolve();
      await stopping;
      assert.equal(finished, true);
      assert.equal((await runsOf(t.db, 'long'))[0]?.status, 'ok', 'its outcome is recorded before stop resolves');
      assert.ok(![...cron.getTasks().values()].some((task) => task.name === 'gazette:long'), 'no timer left');
      assert.deepEqual(await registry.runOnce('long'), { outcome: 'skipped', reason: 'stopped' });
    });

    it('refuses a bad schedule, a duplicate name and an unknown job', async () => {
      await build([{ name: 'one', schedule: '* * * * *', description: 'test', run: async () => {} }]);
      assert.throws(() => registry.register({ name: 'bad', schedule: '61 * * * *', description: '', run: async () => {} }), /invalid schedule "61 \* \* \* \*"/);
      assert.throws(() => registry.register({ name: 'last-day', schedule: '0 0 L * *', description: '', run: async () => {} }), /not supported/);
      assert.throws(() => registry.register({ name: 'one', schedule: '* * * * *', description: '', run: async () => {} }), /already registered/);
      await assert.rejects(registry.runOnce('nope'), /There is no job called nope/);
    });
  });
}

describe('job registry: two processes on one Postgres database', { skip: !process.env.TEST_DATABASE_URL }, () => {
  let first: TestDb;
  let second: DbHandle;
  const clock = new FakeClock(NOON);
  after(async () => {
    await second?.close();
    await first?.drop();
  });

  it('runs a job once per tick, and never in both at once', async () => {
    first = await createTestDb('postgres');
    // Its own connection pool, as a second Gazette process would have.
    second = await connectDatabase({ kind: 'postgres', url: process.env.TEST_DATABASE_URL! }, { searchPath: first.schema! });
    let runs = 0;
    let concurrent = 0;
    let overlapped = false;
    let gate: Promise<void> | undefined;
    const job: JobDefinition = {
      name: 'shared',
      schedule: '*/5 * * * * *',
      description: 'test',
      run: async () => {
        runs += 1;
        concurrent += 1;
        if (concurrent > 1) overlapped = true;
        // A little I/O, so the other process's attempt lands while this run holds the job.
        await new Promise((r) => setImmediate(r));
        await gate;
        concurrent -= 1;
      },
    };
    const registries = [first.db, second.db].map((db) => {
      const r = createJobRegistry({ db, dialect: 'postgres', clock });
      r.register(job);
      return r;
    });

    const TICKS = 6;
    for (let i = 0; i < TICKS; i++) {
      const tick = NOON + i * 5 * SECOND;
      const results = await Promise.all(registries.map((r) => r.runDue(tick)));
      const outcomes = results.map((m) => m.get('shared')!.outcome).sort();
      assert.deepEqual(outcomes, ['ok', 'skipped'], `tick ${i}: one ran it, the other did not`);
    }
    assert.equal(runs, TICKS);
    assert.equal(overlapped, false);
    const rows = await runsOf(first.db, 'shared');
    assert.deepEqual(
      rows.map((r) => Number(r.scheduled_for)),
      Array.from({ length: TICKS }, (_, i) => NOON + i * 5 * SECOND),
    );

    // A long run in one process holds the job: the other's "Run now" and its next tick do not start it.
    const hold = deferred();
    gate = hold.promise;
    const long = registries[0]!.runOnce('shared');
    await waitFor(async () => (await runsOf(first.db, 'shared')).some((r) => r.status === 'running'));
    assert.deepEqual(await registries[1]!.runOnce('shared'), { outcome: 'skipped', reason: 'locked' });
    assert.deepEqual((await registries[1]!.runDue(NOON + 60 * SECOND)).get('shared'), { outcome: 'skipped', reason: 'locked' });
    hold.resolve();
    assert.equal((await long).outcome, 'ok');
    assert.equal((await registries[1]!.runDue(NOON + 65 * SECOND)).get('shared')?.outcome, 'ok', 'the lock is released after the run');
    for (const r of registries) await r.stop();
  });

  it('does not block an installation in another schema of the same database', async () => {
    const other = await createTestDb('postgres');
    try {
      const hold = deferred();
      const job = (name: string): JobDefinition => ({ name: 'same-name', schedule: '* * * * *', description: name, run: () => hold.promise });
      const mine = createJobRegistry({ db: first.db, dialect: 'postgres', clock });
      const theirs = createJobRegistry({ db: other.db, dialect: 'postgres', clock });
      mine.register(job('mine'));
      theirs.register(job('theirs'));
      const a = mine.runOnce('same-name');
      await waitFor(async () => (await runsOf(first.db, 'same-name')).length === 1);
      const b = theirs.runOnce('same-name');
      await waitFor(async () => (await runsOf(other.db, 'same-name')).length === 1);
      hold.resolve();
      assert.equal((await a).outcome, 'ok');
      assert.equal((await b).outcome, 'ok');
    } finally {
      await other.drop();
    }
  });
});

/** Polls a database condition between event-loop turns (no timers): for rows another async path writes. */
async function waitFor(condition: () => Promise<boolean>, attempts = 500): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not met');
}
