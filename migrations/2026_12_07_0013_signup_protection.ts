import type { Kysely } from 'kysely';
import { idColumn } from './lib/schema.js';

/**
 * Sign-ups the defences refused, held for review or let through flagged, each with its reason, for the
 * "Signup protection" page; and the proof-of-work solutions already spent, so none is accepted twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('signup_attempts')
    .addColumn('id', 'integer', idColumn(db))
    .addColumn('newsletter_id', 'integer', (c) => c.references('newsletters.id').onDelete('cascade'))
    // The address as stored ('' when none was readable); a held sign-up keeps what approval needs.
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    // refused | held | flagged | approved
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('decided_at', 'bigint')
    .execute();
  await db.schema.createIndex('signup_attempts_created').on('signup_attempts').column('created_at').execute();
  await db.schema.createIndex('signup_attempts_outcome').on('signup_attempts').columns(['outcome', 'created_at']).execute();
  await db.schema
    .createTable('used_challenges')
    .addColumn('signature_hash', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('used_challenges_expires').on('used_challenges').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('used_challenges').execute();
  await db.schema.dropTable('signup_attempts').execute();
}
