import type { Kysely, Transaction } from 'kysely';
import type { DevOutboxTable } from './tables/dev-outbox.js';
import type { SessionsTable } from './tables/sessions.js';
import type { SettingsTable } from './tables/settings.js';
import type { UsersTable } from './tables/users.js';

/** The whole schema as Kysely sees it; one table type per file under tables/. */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  settings: SettingsTable;
  dev_outbox: DevOutboxTable;
}

export type Db = Kysely<Database>;
/** Repositories accept either the root handle or a transaction. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;
export type Dialect = 'sqlite' | 'postgres';
