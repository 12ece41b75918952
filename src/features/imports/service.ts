import { promises as fs } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { Db, Dialect } from '../../db/database.js';
import { refreshStatistics } from '../../db/statistics.js';
import type { ImportRow } from '../../db/tables/imports.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { randomToken } from '../../lib/tokens.js';
import { findNewsletterById, listNewsletters } from '../newsletters/repository.js';
import type { SendConfirmation } from '../subscribers/service.js';
import { countProblems, fileNotes, finishImport, findImportByPublicId, insertImport, type ImportMode } from './repository.js';
import { runImport, type ImportDeps } from './runner.js';
import type { WelcomeQueue } from '../welcome/queue.js';
import type { CheckEmails } from './screening.js';

/** A running import on Postgres (several processes) whose heartbeat is this old was interrupted. */
const STALE_MS = 10 * 60 * 1000;

export interface ImportServiceDeps {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  log?: FastifyBaseLogger | undefined;
  sendConfirmation?: SendConfirmation | undefined;
  welcome?: WelcomeQueue | undefined;
  mailQueued?: (() => void) | undefined;
  checkEmails?: CheckEmails | undefined;
  batchSize?: number;
  betweenBatches?: ImportDeps['betweenBatches'];
}

export type ImportService = ReturnType<typeof createImportService>;

/**
 * Starts imports in the background of this process and keeps their promises, so shutdown (and tests)
 * can wait for them. The upload is already a file on disk when an import starts; the runner removes it.
 */
export function createImportService(deps: ImportServiceDeps) {
  const { db, clock } = deps;
  const running = new Map<number, Promise<void>>();
  const stop = new AbortController();

  async function start(input: { newsletterId: number; mode: ImportMode; tags: string[]; filename: string; filePath: string; sendWelcome?: boolean }): Promise<{ publicId: string; done: Promise<void> }> {
    const newsletter = await findNewsletterById(db, input.newsletterId);
    if (!newsletter) {
      await fs.rm(input.filePath, { force: true });
      throw new ValidationError({ newsletter_id: 'Choose a newsletter.' });
    }
    const fileSize = (await fs.stat(input.filePath)).size;
    const publicId = randomToken(12);
    const importId = await insertImport(db, {
      publicId,
      newsletterId: newsletter.id,
      filename: input.filename.slice(0, 200),
      mode: input.mode,
      tags: JSON.stringify(input.tags),
      fileSize,
      at: clock.now(),
    });
    const done = runImport(
      { db, clock, log: deps.log, sendConfirmation: deps.sendConfirmation, welcome: deps.welcome, checkEmails: deps.checkEmails, mailQueued: deps.mailQueued, signal: stop.signal, betweenBatches: deps.betweenBatches, ...(deps.batchSize ? { batchSize: deps.batchSize } : {}) },
      { importId, publicId, newsletter, mode: input.mode, tags: input.tags, filePath: input.filePath, sendWelcome: input.sendWelcome === true },
    )
      // Postgres: thousands of new rows leave the list's statistics stale (see refreshStatistics); the
      // list pages and the next send are planned from them. Analyzed here, once, not on the first send.
      .then(async () => {
        if (deps.dialect === 'postgres') await refreshStatistics(db, ['subscribers', 'subscriptions', 'subscriber_tags']);
      })
      .catch((err: unknown) => deps.log?.warn({ err }, 'could not refresh table statistics after an import'))
      .finally(() => running.delete(importId));
    running.set(importId, done);
    return { publicId, done };
  }

  /**
   * An import's row for display. One left "running" by a process that is gone (a restart, a crash) is
   * marked failed here, with the way to finish it: on SQLite only this process can run imports; on
   * Postgres another one might, so its heartbeat decides.
   */
  async function get(publicId: string): Promise<ImportRow> {
    const row = await findImportByPublicId(db, publicId);
    if (!row) throw new NotFoundError('There is no import at this address.');
    if (row.status !== 'running' || running.has(row.id)) return row;
    const orphaned = deps.dialect === 'sqlite' || clock.now() - (row.heartbeat_at ?? row.created_at) > STALE_MS;
    if (!orphaned) return row;
    await finishImport(db, row.id, {
      status: 'failed',
      error: 'This import was interrupted (the server restarted). Upload the same file again to finish it: rows already imported are recognised and not added twice.',
      at: clock.now(),
    });
    return (await findImportByPublicId(db, publicId))!;
  }

  /** What the report holds beside the counts: its size, and the first notes on the file as a whole. */
  async function reportSummary(row: ImportRow): Promise<{ reportLines: number; fileNotes: string[]; moreFileNotes: number }> {
    const [reportLines, notes] = await Promise.all([countProblems(db, row.id), fileNotes(db, row.id, 5)]);
    return { reportLines, fileNotes: notes.reasons, moreFileNotes: notes.total - notes.reasons.length };
  }

  /** Resolves when every import this process started has finished. */
  async function idle(): Promise<void> {
    while (running.size > 0) await Promise.allSettled([...running.values()]);
  }

  /** Shutdown: imports stop after their current batch and are marked failed with how to resume. */
  async function close(): Promise<void> {
    stop.abort();
    await idle();
  }

  /** The newsletters an import can add people to. */
  const newsletters = () => listNewsletters(db);

  return { start, get, reportSummary, newsletters, idle, close };
}
