import type { Db, Dialect } from '../db/database.js';
import { releaseJobLock, tryJobLock } from './repository.js';

/**
 * Who may run a job now. On Postgres several Gazette processes may share the database, so a run holds a
 * session advisory lock for its whole length, on a connection of its own: the pool hands each query any
 * connection, and a session lock is released only by the connection that took it. A transaction-scoped
 * lock would mean an open transaction across the job's network I/O.
 * On SQLite there is one process, so there is no lock to take.
 */

/**
 * Runs `f` with the database handle the run's bookkeeping goes through, while holding the lock for
 * `job`; resolves undefined without calling `f` when another process holds it.
 */
export async function withJobLock<T>(db: Db, dialect: Dialect, job: string, f: (lockDb: Db) => Promise<T>): Promise<T | undefined> {
  if (dialect === 'sqlite') return f(db);
  return db.connection().execute(async (conn) => {
    if (!(await tryJobLock(conn, job))) return undefined;
    try {
      return await f(conn);
    } finally {
      await releaseJobLock(conn, job);
    }
  });
}
