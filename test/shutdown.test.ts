import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closeServer, type ClosingParts } from '../src/shutdown.js';

/**
 * The server's shutdown order (src/shutdown.ts) with parts that behave as the real ones do at the end: the
 * import and the hit recorder still write to the database while they close, and a closed database refuses
 * every write, as better-sqlite3 and pg do ("The database connection is not open", "Cannot use a pool after
 * calling end").
 */
function parts() {
  const events: string[] = [];
  let open = true;
  const write = async (what: string) => {
    await new Promise((r) => setImmediate(r));
    if (!open) throw new Error(`database closed: ${what} lost`);
    events.push(`wrote ${what}`);
  };
  const step = (name: string) => async () => {
    await new Promise((r) => setImmediate(r));
    events.push(name);
  };
  /** Writes `what`, then records that `name` is done. */
  const finishing = (what: string, name: string) => async () => {
    await write(what);
    events.push(name);
  };
  const p: ClosingParts = {
    jobs: { stop: step('jobs stopped') },
    sending: { stop: finishing('the last send outcomes', 'sending stopped') },
    mailOutbox: { stop: step('mail outbox stopped') },
    mailer: { close: step('mailer closed') },
    // A running import stops after its current batch, which it writes first.
    imports: { close: finishing('the import batch', 'imports closed') },
    hitRecorder: { close: finishing('buffered hits', 'hit recorder closed') },
    observability: { errors: { flush: () => write('reported errors') }, close: () => void events.push('observability closed') },
    database: {
      close: async () => {
        open = false;
        events.push('database closed');
      },
    },
  };
  return { p, events };
}

test('the server closes the database last, after every part that still writes to it', async () => {
  const { p, events } = parts();
  await closeServer(p);
  assert.equal(events.at(-1), 'database closed');
  for (const write of ['wrote the import batch', 'wrote buffered hits', 'wrote reported errors', 'wrote the last send outcomes']) {
    assert.ok(events.includes(write), `${write}: ${events.join(', ')}`);
  }
  // Producers stop before the import and the recorder are asked to finish, so nothing new starts meanwhile.
  assert.ok(events.indexOf('jobs stopped') < events.indexOf('imports closed'));
  assert.ok(events.indexOf('sending stopped') < events.indexOf('imports closed'));
});

test('closing the database before the import would lose its last batch (the order the test guards)', async () => {
  const { p } = parts();
  await p.database.close();
  await assert.rejects(p.imports.close(), /database closed: the import batch lost/);
});
