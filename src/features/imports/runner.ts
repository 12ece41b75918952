import { promises as fs } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Db, DbOrTx } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { Clock } from '../../lib/clock.js';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { cleanName } from '../readers/names.js';
import { findOrCreateTag } from '../subscribers/repository.js';
import type { SendConfirmation } from '../subscribers/service.js';
import { recordEvent } from '../../domain/events.js';
import { emailHash } from '../../domain/suppressions.js';
import { applyBatch, type ImportRowInput } from './batch.js';
import { screenRows, type CheckEmails } from './screening.js';
import { detectColumns, sniffDelimiter, splitTags, type ColumnMap } from './columns.js';
import { csvRecords } from './csv-records.js';
import { decodeFile, detectEncoding, encodingNotice, type FileEncoding } from './encoding.js';
import { addProgress, findImport, findTagIdByName, finishImport, insertProblems, setBytesRead, type ImportCounts, type ImportMode, type Problem } from './repository.js';
import type { WelcomeQueue } from '../welcome/queue.js';

export interface ImportSpec {
  importId: number;
  publicId: string;
  newsletter: NewsletterRow;
  mode: ImportMode;
  /** Tags chosen on the form, applied to every imported row. */
  tags: string[];
  filePath: string;
  /** "Send welcome" was ticked: subscriptions the import makes active get the newsletter's welcome mail. */
  sendWelcome?: boolean;
}

export interface ImportDeps {
  db: Db;
  clock: Clock;
  log?: FastifyBaseLogger | undefined;
  sendConfirmation?: SendConfirmation | undefined;
  welcome?: WelcomeQueue | undefined;
  /** Called after a batch that queued confirmation mail commits, so the mail outbox sends it at once. */
  mailQueued?: (() => void) | undefined;
  /** The sign-up form's address checks, applied to each batch before it is written. */
  checkEmails?: CheckEmails | undefined;
  /** Aborted on shutdown: the import stops between two batches and says how to finish it. */
  signal?: AbortSignal | undefined;
  batchSize?: number;
  maxRows?: number;
  /** Awaited between two batches; by default one turn of the event loop, so requests get in. */
  betweenBatches?: (() => Promise<unknown>) | undefined;
}

export const IMPORT_LIMITS = { batchSize: 500, maxRows: 1_000_000, maxRecordBytes: 64 * 1024, maxFileTags: 100, valueLength: 1000 };

/** A problem with the file itself, worded for the writer. */
class ImportFileError extends Error {}

const zero = (): ImportCounts => ({ total_rows: 0, created_count: 0, updated_count: 0, skipped_count: 0, invalid_count: 0, duplicate_count: 0 });

/**
 * Streams the stored upload through csvRecords (csv-records.ts) and writes it in batches of `batchSize` rows, one
 * transaction each (with the batch's counts and problems), so a large file never sits in memory and a
 * crash loses at most the batch in flight — which a re-run of the same file then adds, since every write
 * is an idempotent upsert. Only the set of addresses already seen (for in-file duplicates) grows with
 * the file. Always ends the import as done or failed, and always removes the stored file.
 */
export async function runImport(deps: ImportDeps, spec: ImportSpec): Promise<void> {
  const { db, clock } = deps;
  try {
    await importFile(deps, spec);
    const size = (await fs.stat(spec.filePath)).size;
    await setBytesRead(db, spec.importId, size);
    await finish(db, spec, { status: 'done', error: null, at: clock.now() });
  } catch (err) {
    let message: string;
    if (err instanceof ImportFileError) message = err.message;
    else if (deps.signal?.aborted) message = 'The server shut down during this import. Upload the same file again to finish it: rows already imported are recognised and not added twice.';
    else {
      deps.log?.error({ err, import: spec.publicId }, 'import failed');
      message = 'The import stopped because of an error on our side. Rows imported so far are kept; upload the same file again to finish it.';
    }
    await finish(db, spec, { status: 'failed', error: message, at: clock.now() }).catch((e) => deps.log?.error({ err: e }, 'could not record a failed import'));
  } finally {
    await fs.rm(spec.filePath, { force: true }).catch(() => {});
  }
}

/** Ends the import and logs it with its counts (outgoing webhooks read the log), in one transaction. */
async function finish(db: Db, spec: ImportSpec, outcome: { status: 'done' | 'failed'; error: string | null; at: number }): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (!(await finishImport(trx, spec.importId, outcome))) return;
    const row = await findImport(trx, spec.importId);
    const counts = row && { total: row.total_rows, created: row.created_count, updated: row.updated_count, skipped: row.skipped_count, invalid: row.invalid_count, duplicates: row.duplicate_count };
    await recordEvent(trx, { type: 'import_finished', at: outcome.at, newsletterId: spec.newsletter.id, data: { import: spec.publicId, status: outcome.status, error: outcome.error, ...counts } });
  });
}

async function firstLine(filePath: string, encoding: FileEncoding): Promise<string> {
  const handle = await fs.open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return new TextDecoder(encoding).decode(buffer.subarray(0, bytesRead)).split(/\r\n|\n|\r/)[0] ?? '';
  } finally {
    await handle.close();
  }
}

async function importFile(deps: ImportDeps, spec: ImportSpec): Promise<void> {
  const { db, clock } = deps;
  const batchSize = deps.batchSize ?? IMPORT_LIMITS.batchSize;
  const maxRows = deps.maxRows ?? IMPORT_LIMITS.maxRows;
  const tagIds = new Map<string, number>();
  const refusedTags = new Set<string>();
  let newTags = 0;
  const formTags = spec.tags;

  let rows: ImportRowInput[] = [];
  let rowTags: string[][] = [];
  let problems: Problem[] = [];
  /** Rows imported with something left out, reported unless the batch skips the row anyway. */
  let rowNotes: Problem[] = [];
  let counts = zero();
  let bytes = 0;
  const seen = new Set<string>();

  async function flush(): Promise<void> {
    if (rows.length === 0 && problems.length === 0 && counts.total_rows === 0) return;
    if (deps.checkEmails) ({ rows, rowTags } = await screenRows(deps.checkEmails, rows, rowTags, { problems, notes: rowNotes, counts }));
    const now = clock.now();
    const outcome = await db.transaction().execute(async (trx) => {
      // Tags are resolved inside the batch's transaction: created with it, or not at all.
      for (const name of formTags) await resolveTag(trx, name, now, false);
      for (const name of new Set(rowTags.flat())) await resolveTag(trx, name, now, true);
      const tagNotes: Problem[] = [];
      rows.forEach((row, i) => {
        const names = [...formTags, ...(rowTags[i] ?? [])];
        row.tagIds = [...new Set(names.flatMap((t) => tagIds.get(t.toLowerCase()) ?? []))];
        for (const t of rowTags[i] ?? []) {
          if (!tagIds.has(t.toLowerCase())) tagNotes.push({ line: row.line, email: row.email, reason: `imported without the tag "${t}": one file can add at most ${IMPORT_LIMITS.maxFileTags} new tags` });
        }
      });
      const result = await applyBatch(trx, { importId: spec.importId, publicId: spec.publicId, newsletterId: spec.newsletter.id, mode: spec.mode, at: now }, rows);
      const skipped = new Set(result.problems.map((p) => p.line));
      // Notes on rows that were imported after all; a skipped row's reason says enough.
      const notes = [...rowNotes, ...tagNotes].filter((p) => !skipped.has(p.line));
      await insertProblems(trx, spec.importId, [...problems, ...result.problems, ...notes].sort((a, b) => a.line - b.line));
      await addProgress(trx, spec.importId, { ...counts, created_count: result.created, updated_count: result.updated, skipped_count: result.skipped }, bytes, now);
      // Confirmations are queued in the batch's transaction: a crash after the commit cannot leave a
      // pending reader with no mail; the outbox sends them after the commit.
      if (deps.sendConfirmation) {
        for (const p of result.pending) await deps.sendConfirmation(trx, spec.newsletter, { id: p.subscriberId, email: p.email }, p.subscriptionId, null);
      }
      const welcomed = spec.sendWelcome && deps.welcome ? await deps.welcome.queue(trx, spec.newsletter.id, result.activated, now) : 0;
      return { ...result, welcomed };
    });
    rows = [];
    rowTags = [];
    problems = [];
    rowNotes = [];
    counts = zero();
    if ((deps.sendConfirmation && outcome.pending.length > 0) || outcome.welcomed > 0) deps.mailQueued?.();
    if (deps.signal?.aborted) throw new Error('aborted');
    await (deps.betweenBatches ?? nextTurn)();
  }

  /**
   * A tag's id, found ignoring case or created. The cap is on distinct tags a file creates (a tag on
   * every row of a 10,000-row file is one tag); a tag past it is remembered as refused, and each row
   * that names it is reported.
   */
  async function resolveTag(trx: DbOrTx, name: string, now: number, capped: boolean): Promise<void> {
    const key = name.toLowerCase();
    if (tagIds.has(key) || refusedTags.has(key)) return;
    const existing = await findTagIdByName(trx, name);
    if (existing !== undefined) tagIds.set(key, existing);
    else if (!capped || newTags < IMPORT_LIMITS.maxFileTags) {
      tagIds.set(key, (await findOrCreateTag(trx, name, now)).id);
      if (capped) newTags++;
    } else refusedTags.add(key);
  }

  // Every row ends imported or in the report: what a file's encoding or columns cost, the report says first.
  const encoding = await detectEncoding(spec.filePath);
  const notice = encodingNotice(encoding);
  if (notice) problems.push({ line: 0, email: '', reason: notice });
  const delimiter = sniffDelimiter(await firstLine(spec.filePath, encoding));
  const maxRecord = IMPORT_LIMITS.maxRecordBytes;
  const records = csvRecords(decodeFile(spec.filePath, encoding, (n) => (bytes = n)), { delimiter, maxRecordChars: maxRecord });

  let columns: ColumnMap | null = null;
  let dataRows = 0;
  try {
    for await (const record of records) {
      const { cells, line } = record;
      if (columns === null) {
        if (record.oversized) throw new ImportFileError(`The first row of the file is longer than ${maxRecord / 1024} KB, so its headings cannot be read.`);
        if (record.unclosed) throw new ImportFileError(`A quote in the first row of the file is never closed, so the whole file reads as one row. Close the quote and import the file again.`);
        try {
          columns = detectColumns(cells);
        } catch (err) {
          throw new ImportFileError((err as Error).message);
        }
        for (const reason of columns.dropped) problems.push({ line: 0, email: '', reason });
        if (columns.hasHeader) continue;
      }
      const broken = record.oversized || record.unclosed;
      if (!broken && cells.every((cell) => cell.trim() === '')) continue;
      if (++dataRows > maxRows) {
        throw new ImportFileError(`The file has more than ${maxRows.toLocaleString('en')} rows. The first ${maxRows.toLocaleString('en')} were imported; split the rest into another file.`);
      }
      counts.total_rows++;
      const raw = (cells[columns.email] ?? '').trim();
      const email = normalizeEmail(raw);
      if (broken) {
        counts.invalid_count++;
        const reason = record.unclosed
          ? `a quote opened in this row is never closed, so lines ${line}–${record.endLine} read as one row: not imported. Close the quote and import the file again.`
          : `the row is longer than ${maxRecord / 1024} KB: not imported`;
        problems.push({ line, email: isValidEmail(email) ? email : '', reason });
      } else if (!isValidEmail(email)) {
        counts.invalid_count++;
        problems.push({ line, email: raw, reason: raw ? 'not a valid email address' : 'no email address' });
      } else if (seen.has(email)) {
        counts.duplicate_count++;
        problems.push({ line, email, reason: 'duplicate of an earlier row in this file' });
      } else {
        seen.add(email);
        rows.push(toRow(columns, cells, line, email));
        rowTags.push(columns.tags !== null ? splitTags(cells[columns.tags] ?? '') : []);
        const note = cutCells(columns, cells);
        if (note) rowNotes.push({ line, email, reason: note });
      }
      if (rows.length + problems.length >= batchSize) await flush();
    }
  } catch (err) {
    // What was read before a bad spot is kept: write it, then report the file's problem.
    if (err instanceof ImportFileError) await flush();
    throw err;
  }
  if (columns === null) throw new ImportFileError('The file is empty.');
  await flush();
}

/** What an imported row loses: cells past the headings, values past the length limit. */
function cutCells(columns: ColumnMap, cells: string[]): string | null {
  const cut: string[] = [];
  for (const [i, key] of columns.attributes) {
    if ((cells[i] ?? '').trim().length > IMPORT_LIMITS.valueLength) cut.push(`"${key}"`);
  }
  const extra = columns.hasHeader ? cells.slice(columns.headings).filter((c) => c.trim() !== '').length : 0;
  const parts: string[] = [];
  if (cut.length > 0) parts.push(`${cut.join(', ')} cut to ${IMPORT_LIMITS.valueLength.toLocaleString('en')} characters`);
  if (extra > 0) parts.push(`${extra} cell${extra === 1 ? '' : 's'} past the last heading not imported (a comma inside a name that is not in quotes?)`);
  return parts.length > 0 ? `imported, but ${parts.join('; ')}` : null;
}

function toRow(columns: ColumnMap, record: string[], line: number, email: string): ImportRowInput {
  const cell = (i: number | null) => (i === null ? '' : (record[i] ?? '').trim());
  const fullName = cell(columns.name) || [cell(columns.firstName), cell(columns.lastName)].filter(Boolean).join(' ');
  // Without a prototype, a column named "__proto__" or "constructor" is a key like any other.
  const attributes: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [i, key] of columns.attributes) {
    const value = cell(i);
    if (value) attributes[key] = value.slice(0, IMPORT_LIMITS.valueLength);
  }
  return { line, email, hash: emailHash(email), name: cleanName(fullName), attributes, tagIds: [] };
}
