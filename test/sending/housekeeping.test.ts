import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createHousekeeper } from '../../src/sending/housekeeping.js';
import { DEFAULT_ENGINE_OPTIONS, silentLog } from '../../src/sending/options.js';
import type { BulkTransport } from '../../src/sending/transport.js';
import { FakeClock } from '../helpers/clock.js';
import { createTestDb, DIALECTS } from '../helpers/db.js';
import { makeNewsletter, makePost } from './fixtures.js';

for (const dialect of DIALECTS) {
  test(`housekeeping resumes an unfinished snapshot for a few pages only, then lets the send go on (${dialect})`, async () => {
    const t = await createTestDb(dialect);
    after(() => t.drop());
    const clock = new FakeClock();
    const nl = await makeNewsletter(t.db, clock.now());
    // A send whose audience snapshot was interrupted (e.g. by a restart).
    const postId = await makePost(t.db, nl.id, clock.now(), { status: 'sending', started_at: clock.now() });
    const calls: Array<[number, number | undefined]> = [];
    const housekeeper = createHousekeeper({
      db: t.db,
      dialect,
      clock,
      options: { ...DEFAULT_ENGINE_OPTIONS, snapshotWaitPages: 3 },
      owner: 'me',
      scheduleMaxLatenessMs: 60_000,
      transport: {} as BulkTransport,
      log: silentLog,
      startPost: async () => {},
      snapshot: async (id, maxPages) => void calls.push([id, maxPages]),
      wake: () => {},
      finished: () => {},
    });
    await housekeeper.run();
    // Bounded: the rest of a big audience is written in the background while messages go out (waiting for
    // all of it held the first message of a 1,000,000-recipient send back by 12 s).
    assert.deepEqual(calls, [[postId, 3]]);
  });
}
