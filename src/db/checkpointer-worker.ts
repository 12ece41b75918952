import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { registerSqliteFunctions } from './sqlite-functions.js';

/**
 * Worker-thread side of startCheckpointer (connect.ts): its own connection to the database file, which
 * folds the write-ahead log back into the database every `intervalMs`. A PASSIVE checkpoint never
 * blocks writers or readers; it copies the committed frames and fsyncs the database file here, on this
 * thread, instead of inside some commit on the main thread (a stall of several milliseconds, up to tens
 * for a big import, every thousand pages). It also runs the long reads the main thread hands over.
 */

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const port = parentPort!;
const sqlite = new SqliteDatabase(file);
sqlite.pragma('synchronous = FULL');
// The checkpoint gives way to anything holding a lock; the next round catches up.
sqlite.pragma('busy_timeout = 0');
// 2 MB of page cache, not better-sqlite3's 16 MB: the reads here scan an index once, so a bigger cache
// only fills with pages read once (a progress count over a big send would fill all 16 MB).
sqlite.pragma('cache_size = -2000');
registerSqliteFunctions(sqlite);

type Result = { busy: number; log: number; checkpointed: number } | null;
const round = (): Result => {
  try {
    const [r] = sqlite.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    return r ?? null;
  } catch {
    // SQLITE_BUSY or a database being closed: the next round tries again.
    return null;
  }
};
const timer = setInterval(round, intervalMs);

/**
 * A read-only statement run here instead of on the main thread (see Checkpointer.read): rows, or null
 * when it cannot run here (a write, SQLITE_BUSY, an error) and the caller runs it itself.
 */
const statements = new Map<string, SqliteDatabase.Statement>();
const read = (text: string, parameters: unknown[]): unknown[] | null => {
  try {
    let statement = statements.get(text);
    if (!statement) {
      statement = sqlite.prepare(text);
      if (!statement.reader) return null;
      if (statements.size >= 32) statements.clear();
      statements.set(text, statement);
    }
    return statement.all(...parameters);
  } catch {
    return null;
  }
};

type Message = { t: 'round' } | { t: 'stop' } | { t: 'read'; sql: string; parameters: unknown[] };
port.on('message', (msg: Message) => {
  if (msg.t === 'round') port.postMessage({ t: 'round', result: round() });
  else if (msg.t === 'read') port.postMessage({ t: 'read', result: read(msg.sql, msg.parameters) });
  else {
    clearInterval(timer);
    round();
    sqlite.close();
    port.postMessage({ t: 'stopped' });
  }
});
