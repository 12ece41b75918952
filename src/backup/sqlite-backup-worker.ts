import { parentPort, workerData } from 'node:worker_threads';
import { checkDatabaseFile, copyLiveDatabase } from './sqlite-file-repository.js';

/**
 * Worker-thread side of backupSqlite: the copy and its integrity_check read every page of the database,
 * which on the server's main thread would hold up every request and the send loop for as long.
 */

const { source, dest } = workerData as { source: string; dest: string };

try {
  const manifest = await copyLiveDatabase(source, dest);
  const check = checkDatabaseFile(dest, { selfContained: true });
  parentPort!.postMessage(check.ok ? { ok: true, manifest } : { ok: false, problem: `the copy failed its check: ${check.problem}` });
} catch (err) {
  parentPort!.postMessage({ ok: false, problem: (err as Error).message });
}
