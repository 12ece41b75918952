import type { MessagePort } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { registerSqliteFunctions } from './sqlite-functions.js';

/**
 * The background thread's side of startCheckpointer (connect.ts), a role of the shared host thread
 * (lib/thread-host.ts): its own connection to the database file, which folds the write-ahead log back into
 * the database every `intervalMs`. A PASSIVE checkpoint never blocks writers or readers; it copies the
 * committed frames and fsyncs the database file there, instead of inside some commit on the main thread (a
 * stall of several milliseconds, up to tens for a big import, every thousand pages). It also runs the long
 * reads the main thread hands over.
 */

type Result = { busy: number; log: number; checkpointed: number } | null;
export type CheckpointerMessage = { t: 'round' } | { t: 'stop' } | { t: 'read'; sql: string; parameters: unknown[] };

export function attach(port: MessagePort, data: unknown): () => void {
  const { file, intervalMs } = data as { file: string; intervalMs: number };
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('synchronous = FULL');
  // The checkpoint gives way to anything holding a lock; the next round catches up.
  sqlite.pragma('busy_timeout = 0');
  // 2 MB of page cache, not better-sqlite3's 16 MB: the reads here scan an index once, so a bigger cache
  // only fills with pages read once (a progress count over a big send would fill all 16 MB).
  sqlite.pragma('cache_size = -2000');
  registerSqliteFunctions(sqlite);

  const round = (): Result => {
    if (!sqlite.open) return null;
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

  const end = () => {
    clearInterval(timer);
    if (!sqlite.open) return;
    round();
    sqlite.close();
  };
  port.on('message', (msg: CheckpointerMessage) => {
    if (msg.t === 'round') port.postMessage({ t: 'round', result: round() });
    else if (msg.t === 'read') port.postMessage({ t: 'read', result: read(msg.sql, msg.parameters) });
    else {
      end();
      port.postMessage({ t: 'stopped' });
    }
  });
  return end;
}
