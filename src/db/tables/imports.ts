import type { Generated, Selectable } from 'kysely';

export interface ImportsTable {
  id: Generated<number>;
  public_id: string;
  newsletter_id: number;
  filename: string;
  /** confirmed | send_confirmation */
  mode: string;
  tags: Generated<string>;
  /** running | done | failed */
  status: string;
  total_rows: Generated<number>;
  created_count: Generated<number>;
  updated_count: Generated<number>;
  skipped_count: Generated<number>;
  invalid_count: Generated<number>;
  duplicate_count: Generated<number>;
  error: string | null;
  created_at: number;
  finished_at: number | null;
  /** Size of the stored upload; progress is bytes_read / file_size (rows are unknown until the end). */
  file_size: Generated<number>;
  bytes_read: Generated<number>;
  /** Written with every batch: a running import whose heartbeat stopped was interrupted by a restart. */
  heartbeat_at: number | null;
}

export type ImportRow = Selectable<ImportsTable>;

export interface ImportProblemsTable {
  id: Generated<number>;
  import_id: number;
  line: number;
  email: string;
  reason: string;
}
