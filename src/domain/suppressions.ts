import type { DbOrTx } from '../db/database.js';
import type { SuppressionReason } from '../db/tables/subscribers.js';
import { normalizeEmail } from '../lib/email.js';
import { sha256Hex } from '../lib/tokens.js';

/**
 * Addresses we must never mail again (hard bounces, complaints, blocks). Keyed by a hash of the
 * normalised address, so the suppression outlives a GDPR wipe of the subscriber without keeping PII.
 * This module is the suppressions table's repository, shared by the features and the sending engine.
 */
export function emailHash(email: string): string {
  return sha256Hex(normalizeEmail(email));
}

export async function isSuppressed(db: DbOrTx, email: string): Promise<boolean> {
  const row = await db.selectFrom('suppressions').select('email_hash').where('email_hash', '=', emailHash(email)).executeTakeFirst();
  return row !== undefined;
}

export async function suppressionReason(db: DbOrTx, email: string): Promise<SuppressionReason | undefined> {
  const row = await db.selectFrom('suppressions').select('reason').where('email_hash', '=', emailHash(email)).executeTakeFirst();
  return row?.reason;
}

/**
 * Idempotent: the first reason recorded for an address stays. `source` says who reported it: smtp (the
 * relay's answer while sending), a relay webhook's name, mailbox, or policy.
 */
export async function suppress(db: DbOrTx, email: string, reason: SuppressionReason, at: number, detail = '', source = 'smtp'): Promise<boolean> {
  const result = await db
    .insertInto('suppressions')
    .values({ email_hash: emailHash(email), reason, source, detail: detail.slice(0, 500), created_at: at })
    .onConflict((oc) => oc.column('email_hash').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function unsuppress(db: DbOrTx, email: string): Promise<void> {
  await db.deleteFrom('suppressions').where('email_hash', '=', emailHash(email)).execute();
}
