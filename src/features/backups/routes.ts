import { z } from 'zod';
import { backupSize } from '../../backup/retention.js';
import { queryText } from '../../lib/query.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { BACKUP_NAME, listBackups, openBackup } from './service.js';

const backupParams = z.object({ name: z.string().max(100).regex(BACKUP_NAME, 'There is no such backup.') });
const backupQuery = z.object({ started: queryText });
const JOB = 'backup';

/** Backups (docs/upgrades.md): the files in BACKUP_DIR to download, and "Back up now" on SQLite. */
export default async function backupRoutes(app: TypedApp) {
  const { config, dialect, jobs } = app.ctx;
  const dir = config.backup.dir;
  const scheduled = () => jobs.jobs().some((j) => j.name === JOB);

  app.get('/admin/backups', { schema: { querystring: backupQuery } }, async (request, reply) => {
    const files = await listBackups(dir);
    return reply.page('backups/page', {
      title: 'Backups',
      dir,
      postgres: dialect === 'postgres',
      scheduled: scheduled(),
      schedule: scheduled() ? jobs.jobs().find((j) => j.name === JOB)!.parsed.words : undefined,
      started: request.query.started === '1',
      files: files.map((f) => ({ ...f, size: backupSize(f.bytes), iso: new Date(f.takenAt).toISOString(), at: new Date(f.takenAt).toISOString().slice(0, 16).replace('T', ' ') })),
    });
  });

  app.post('/admin/backups', async (_request, reply) => {
    // The same run as the schedule's, recorded on the Jobs page; it goes on after this answer.
    const started = scheduled() && (await jobs.trigger(JOB));
    return reply.redirect(started ? '/admin/backups?started=1' : '/admin/backups', 303);
  });

  app.get('/admin/backups/:name', { schema: { params: backupParams } }, async (request, reply) => {
    const { name } = request.params;
    const { stream, bytes } = await openBackup(dir, name);
    return reply
      .type(name.endsWith('.pgdump') ? 'application/octet-stream' : 'application/gzip')
      .header('content-length', bytes)
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('cache-control', 'no-store')
      .send(stream);
  });
}
