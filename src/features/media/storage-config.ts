import path from 'node:path';
import type { Config } from '../../config.js';
import { diskStorage, type MediaStorage } from './storage.js';

/** Images go under DATA_DIR/media unless a bucket is configured. */
export function mediaStorageFor(config: Config): MediaStorage {
  return diskStorage(path.join(config.dataDir, 'media'));
}
