import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/** The schema Gazette's tables are in (the connection's search_path; "public" unless set otherwise). */
export async function currentSchemaName(db: Db): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]!.schema;
}
