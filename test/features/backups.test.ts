import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { buildTestApp, setupOwner } from '../helpers/app.js';
import { DIALECTS } from '../helpers/db.js';

/** The Backups page: the files in BACKUP_DIR to download, and "Back up now" on SQLite. */
for (const dialect of DIALECTS) {
  describe(`the backups page (${dialect})`, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gazette-backups-page-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('lists backups, takes one now, downloads it, and serves nothing else', async () => {
      const backupDir = path.join(dir, 'backups');
      const t = await buildTestApp(dialect, {
        env: { BACKUP_DIR: backupDir },
        ...(dialect === 'sqlite' ? { sqliteFile: path.join(dir, 'gazette.db') } : {}),
      });
      try {
        const stranger = await t.agent().get('/admin/backups');
        assert.equal(stranger.statusCode, 303, 'signed-in only');
        const agent = await setupOwner(t);
        const empty = await agent.get('/admin/backups');
        assert.equal(empty.statusCode, 200);
        assert.match(empty.body, /No backups yet/);
        if (dialect === 'postgres') {
          assert.match(empty.body, /Gazette runs on Postgres/);
          assert.doesNotMatch(empty.body, /Back up now/);
          return;
        }
        assert.match(empty.body, /every day at 03:17 UTC/i);

        const now = await agent.post('/admin/backups');
        assert.equal(now.statusCode, 303);
        assert.equal(now.headers.location, '/admin/backups?started=1');
        await t.jobs.idle();
        const page = await agent.get('/admin/backups?started=1');
        assert.match(page.body, /The backup has started/);
        const name = /href="\/admin\/backups\/(gazette-\d{8}-\d{6}\.sqlite\.gz)"/.exec(page.body)?.[1];
        assert.ok(name, page.body);

        const download = await agent.get(`/admin/backups/${name}`);
        assert.equal(download.statusCode, 200);
        assert.equal(download.headers['content-disposition'], `attachment; filename="${name}"`);
        assert.equal(download.headers['cache-control'], 'no-store');
        assert.deepEqual(download.rawPayload, readFileSync(path.join(backupDir, name!)));
        assert.equal(gunzipSync(download.rawPayload).subarray(0, 15).toString(), 'SQLite format 3');

        for (const bad of ['..%2F..%2Fgazette.db', 'gazette.db', 'gazette-20260101-000000.sqlite.gz', `${name}x`]) {
          const res = await agent.get(`/admin/backups/${bad}`);
          assert.ok(res.statusCode === 404 || res.statusCode === 400, `${bad}: ${res.statusCode}`);
          assert.doesNotMatch(res.body, /SQLite format/);
        }
      } finally {
        await t.close();
      }
    });
  });
}
