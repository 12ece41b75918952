import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupFileName, backupsToDelete, backupTime } from '../../src/backup/retention.js';

const at = (iso: string) => Date.parse(iso);
const name = (iso: string, attempt = 0) => backupFileName('sqlite', at(iso), attempt);

describe('backup retention', () => {
  it('names a backup by its UTC time and reads the time back', () => {
    assert.equal(name('2026-12-07T03:17:00Z'), 'gazette-20261207-031700.sqlite.gz');
    assert.equal(name('2026-12-07T03:17:00Z', 2), 'gazette-20261207-031700-2.sqlite.gz');
    assert.equal(backupFileName('postgres', at('2026-01-02T00:00:09Z')), 'gazette-20260102-000009.pgdump');
    assert.equal(backupTime('gazette-20261207-031700-2.sqlite.gz'), at('2026-12-07T03:17:00Z'));
    for (const other of ['gazette.db', 'gazette-2026.sqlite.gz', 'notes-20261207-031700.sqlite.gz', 'gazette-20261207-031700.sqlite']) {
      assert.equal(backupTime(other), undefined, other);
    }
  });

  it('keeps the newest of the last 7 days and of the last 4 weeks, and never touches other files', () => {
    // Two a day (03:17 and 15:00) for 60 days up to Monday 2026-12-07.
    const names: string[] = ['gazette.db', 'README.txt'];
    for (let d = 0; d < 60; d++) {
      const day = new Date(at('2026-12-07T00:00:00Z') - d * 86_400_000).toISOString().slice(0, 10);
      names.push(name(`${day}T03:17:00Z`), name(`${day}T15:00:00Z`));
    }
    const doomed = new Set(backupsToDelete(names, { daily: 7, weekly: 4 }));
    const kept = names.filter((n) => !doomed.has(n)).sort();
    assert.deepEqual(kept, [
      'README.txt',
      'gazette-20261122-150000.sqlite.gz', // weeks start on Monday: the newest of the week of 16 Nov
      'gazette-20261129-150000.sqlite.gz', // the newest of the week of 23 Nov
      'gazette-20261201-150000.sqlite.gz',
      'gazette-20261202-150000.sqlite.gz',
      'gazette-20261203-150000.sqlite.gz',
      'gazette-20261204-150000.sqlite.gz',
      'gazette-20261205-150000.sqlite.gz',
      'gazette-20261206-150000.sqlite.gz', // the newest of the week of 30 Nov
      'gazette-20261207-031700.sqlite.gz', // within a day of the newest
      'gazette-20261207-150000.sqlite.gz',
      'gazette.db',
    ]);
  });

  it('keeps everything while there are fewer backups than the rule allows', () => {
    const names = [name('2026-12-01T03:17:00Z'), name('2026-12-03T03:17:00Z'), name('2026-12-07T03:17:00Z')];
    assert.deepEqual(backupsToDelete(names, { daily: 7, weekly: 4 }), []);
    assert.deepEqual(backupsToDelete(names, { daily: 1, weekly: 0 }), [names[1], names[0]]);
  });
});
