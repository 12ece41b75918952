import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Where image files live. Keys are content hashes, so a put of an existing key writes the same bytes
 * again and is harmless; nothing is ever overwritten with different content.
 */
export interface MediaStorage {
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The file's bytes, or undefined when there is no such file. */
  get(key: string): Promise<Buffer | undefined>;
  remove(key: string): Promise<void>;
}

/** Files under a folder of DATA_DIR, written to a temporary name and renamed, so a reader never sees half a file. */
export function diskStorage(dir: string): MediaStorage {
  const file = (key: string) => path.join(dir, key);
  return {
    async put(key, bytes) {
      await fs.mkdir(dir, { recursive: true });
      const tmp = path.join(dir, `.${key}.${randomBytes(6).toString('hex')}.tmp`);
      await fs.writeFile(tmp, bytes, { mode: 0o644 });
      await fs.rename(tmp, file(key));
    },
    async get(key) {
      try {
        return await fs.readFile(file(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async remove(key) {
      await fs.rm(file(key), { force: true });
    },
  };
}
