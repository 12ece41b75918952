import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Returns the secret kept in `dataDir/secret.key`, creating it on first run. `created` tells the caller
 * to warn: a generated key lives and dies with the data folder, and is not shared between hosts.
 */
export function readOrCreateSecret(dataDir: string): { secret: string; file: string; created: boolean } {
  const file = path.join(dataDir, 'secret.key');
  try {
    const secret = readFileSync(file, 'utf8').trim();
    if (secret.length >= 32) return { secret, file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  // 'wx' fails if another process created it meanwhile; then that one's key wins.
  try {
    writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { secret: readFileSync(file, 'utf8').trim(), file, created: false };
    throw err;
  }
  return { secret, file, created: true };
}
