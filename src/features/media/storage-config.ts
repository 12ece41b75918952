import path from 'node:path';
import type { Config } from '../../config.js';
import { s3Storage } from './s3.js';
import { diskStorage, type MediaStorage } from './storage.js';

/** Images go to the configured bucket, else under DATA_DIR/media. */
export function mediaStorageFor(config: Config): MediaStorage {
  return config.mediaS3 ? s3Storage(config.mediaS3) : diskStorage(path.join(config.dataDir, 'media'));
}
