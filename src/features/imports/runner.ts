import { createReadStream, promises as fs } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Info } from 'csv-parse';
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { Clock } from '../../lib/clock.js';
import { isValidEmail, normalizeEmail } from '../../lib/email.js';
import { cleanName } from '../readers/names.js';
import { findOrCreateTag } from '../subscribers/repository.js';
import type { SendConfirmation } from '../subscribers/service.js';
import { emailHash } from '../suppressions/repository.js';
import { applyBatch, type ImportRowInput } from './batch.js';
import { detectColumns, sniffDelimiter, splitTags, type ColumnMap } from './columns.js';
import { addProgress, finishImport, insertProblems, type ImportCounts, type ImportMode, type Problem } from './repository.js';

export interface ImportSpec {
  importId: number;
  publicId: string;
  newsletter: NewsletterRow;
  mode: ImportMode;
  /** Tags chosen on the form, applied to every imported row. */
  tags: string[];
  filePath: string;
}

export interface ImportDeps {
  db: Db;
  clock: Clock;
  log?: FastifyBaseLogger | undefined;
  sendConfirmation?: SendConfirmation | undefined;
  /** Aborted on shutdown: the import stops between two batches and says how to finish it. */
  signal?: AbortSignal | undefined;
  batchSize?: number;
  maxRows?: number;
}

export const IMPORT_LIMITS = { batchSize: 500, maxRows: 1_000_000, maxRecordBytes: 64 * 1024, maxFileTags: 100, valueLength: 1000 };

/** A problem with the file itself, worded for the writer. */
class ImportFileError extends Error {}

const zero = (): ImportCounts => ({ total_rows: 0, created_count: 0, updated_count: 0, skipped_count: 0, invalid_count: 0, duplicate_count: 0 });

/**
 * Streams the stored upload through csv-parse and writes it in batches of `batchSize` rows, one
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
    await db.updateTable('imports').set({ bytes_read: size }).where('id', '=', spec.importId).execute();
    await finishImport(db, spec.importId, { status: 'done', error: null, at: clock.now() });
  } catch (err) {
    let message: string;
    if (err instanceof ImportFileError) message = err.message;
    else if (deps.signal?.aborted) message = 'The server shut down during this import. Upload the same file again to finish it: rows already imported are recognised and not added twice.';
    else {
      deps.log?.error({ err, import: spec.publicId }, 'import failed');
      message = 'The import stopped because of an error on our side. Rows imported so far are kept; upload the same file again to finish it.';
    }
    await finishImport(db, spec.importId, { status: 'failed', error: message, at: clock.now() }).catch((e) => deps.log?.error({ err: e }, 'could not record a failed import'));
  } finally {
    await fs.rm(spec.filePath, { force: true }).catch(() => {});
  }
}

async function firstLine(filePath: string): Promise<string> {
  const handle = await fs.open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  } finally {
    await handle.close();
  }
}

async function importFile(deps: ImportDeps, spec: ImportSpec): Promise<void> {
  const { db, clock } = deps;
  const batchSize = deps.batchSize ?? IMPORT_LIMITS.batchSize;
  const maxRows = deps.maxRows ?? IMPORT_LIMITS.maxRows;
  const tagIds = new Map<string, number>();
  const formTags = spec.tags;

  let rows: ImportRowInput[] = [];
  let rowTags: string[][] = [];
  let problems: Problem[] = [];
  let counts = zero();
  let bytes = 0;
  const seen = new Set<string>();

  async function flush(): Promise<void> {
    if (rows.length === 0 && problems.length === 0 && counts.total_rows === 0) return;
    const now = clock.now();
    const outcome = await db.transaction().execute(async (trx) => {
      // Tags are resolved inside the batch's transaction: created with it, or not at all.
      for (const name of new Set([...formTags, ...rowTags.flat()])) {
        if (!tagIds.has(name.toLowerCase())) tagIds.set(name.toLowerCase(), (await findOrCreateTag(trx, name, now)).id);
      }
      rows.forEach((row, i) => {
        row.tagIds = [...new Set([...formTags, ...(rowTags[i] ?? [])].map((t) => tagIds.get(t.toLowerCase())!))];
      });
      const result = await applyBatch(trx, { importId: spec.importId, publicId: spec.publicId, newsletterId: spec.newsletter.id, mode: spec.mode, at: now }, rows);
      await insertProblems(trx, spec.importId, [...problems, ...result.problems].sort((a, b) => a.line - b.line));
      await addProgress(trx, spec.importId, { ...counts, created_count: result.created, updated_count: result.updated, skipped_count: result.skipped }, bytes, now);
      return result;
    });
    rows = [];
    rowTags = [];
    problems = [];
    counts = zero();
    // Confirmation mail goes out after the commit, one at a time: the relay never holds the database.
    if (deps.sendConfirmation) {
      for (const p of outcome.pending) {
        try {
          await deps.sendConfirmation(db, spec.newsletter, { id: p.subscriberId, email: p.email }, p.subscriptionId, null);
        } catch (err) {
          deps.log?.error({ err }, 'could not send an import confirmation');
        }
      }
    }
    if (deps.signal?.aborted) throw new Error('aborted');
    await nextTurn(); // let requests in between batches
  }

  const delimiter = sniffDelimiter(await firstLine(spec.filePath));
  const input = createReadStream(spec.filePath);
  // Loaded on first use, so imports cost nothing at start-up.
  const { CsvError, parse } = await import('csv-parse');
  const parser = parse({
    bom: true,
    delimiter,
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    max_record_size: IMPORT_LIMITS.maxRecordBytes,
    skip_records_with_error: true,
    on_skip: (err) => {
      counts.total_rows++;
      counts.invalid_count++;
      problems.push({ line: Number(err?.lines ?? 0), email: '', reason: `unreadable row: ${err?.message ?? 'malformed CSV'}` });
      return undefined;
    },
  });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);

  let columns: ColumnMap | null = null;
  let dataRows = 0;
  let fileTagsCreated = 0;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const { record, info } = item;
      bytes = info.bytes;
      if (columns === null) {
        try {
          columns = detectColumns(record);
        } catch (err) {
          throw new ImportFileError((err as Error).message);
        }
        if (columns.hasHeader) continue;
      }
      if (record.every((cell) => cell.trim() === '')) continue;
      if (++dataRows > maxRows) {
        throw new ImportFileError(`The file has more than ${maxRows.toLocaleString('en')} rows. The first ${maxRows.toLocaleString('en')} were imported; split the rest into another file.`);
      }
      counts.total_rows++;
      const line = info.lines;
      const raw = (record[columns.email] ?? '').trim();
      const email = normalizeEmail(raw);
      if (!isValidEmail(email)) {
        counts.invalid_count++;
        problems.push({ line, email: raw, reason: raw ? 'not a valid email address' : 'no email address' });
      } else if (seen.has(email)) {
        counts.duplicate_count++;
        problems.push({ line, email, reason: 'duplicate of an earlier row in this file' });
      } else {
        seen.add(email);
        rows.push(toRow(columns, record, line, email));
        let tags = columns.tags !== null ? splitTags(record[columns.tags] ?? '') : [];
        // A file could carry a new tag on every row; past a cap, unknown tags are ignored.
        tags = tags.filter((t) => tagIds.has(t.toLowerCase()) || fileTagsCreated++ < IMPORT_LIMITS.maxFileTags);
        rowTags.push(tags);
      }
      if (rows.length + problems.length >= batchSize) await flush();
    }
  } catch (err) {
    // What was read before a bad spot is kept: write it, then report the file's problem.
    if (err instanceof CsvError) {
      await flush();
      throw new ImportFileError(`The file could not be read past line ${parser.info.lines}: ${err.message}`);
    }
    if (err instanceof ImportFileError) await flush();
    throw err;
  }
  if (columns === null) throw new ImportFileError('The file is empty.');
  await flush();
}

function toRow(columns: ColumnMap, record: string[], line: number, email: string): ImportRowInput {
  const cell = (i: number | null) => (i === null ? '' : (record[i] ?? '').trim());
  const fullName = cell(columns.name) || [cell(columns.firstName), cell(columns.lastName)].filter(Boolean).join(' ');
  const attributes: Record<string, string> = {};
  for (const [i, key] of columns.attributes) {
    const value = cell(i);
    if (value) attributes[key] = value.slice(0, IMPORT_LIMITS.valueLength);
  }
  return { line, email, hash: emailHash(email), name: cleanName(fullName), attributes, tagIds: [] };
}
