import type { DbOrTx } from '../db/database.js';

/**
 * Leases: a named row held by one owner until it expires. Every sender renews its own "sender:<id>" lease,
 * which tells the others it is alive; recovery takes back only the rows of senders whose lease ran out.
 */

/** Takes or renews the lease `name` for `owner`; true when `owner` holds it now. */
export async function holdLease(db: DbOrTx, name: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
  await db
    .insertInto('leases')
    .values({ name, owner, expires_at: now + ttlMs })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ owner, expires_at: now + ttlMs })
        .where((eb) => eb.or([eb('leases.owner', '=', owner), eb('leases.expires_at', '<', now)])),
    )
    .execute();
  const row = await db.selectFrom('leases').select('owner').where('name', '=', name).executeTakeFirst();
  return row?.owner === owner;
}

export async function dropLease(db: DbOrTx, name: string, owner: string): Promise<void> {
  await db.deleteFrom('leases').where('name', '=', name).where('owner', '=', owner).execute();
}

/** Owners of unexpired leases named `prefix…` (the running senders). */
export async function liveLeaseOwners(db: DbOrTx, prefix: string, now: number): Promise<string[]> {
  const rows = await db.selectFrom('leases').select('owner').where('name', 'like', `${prefix}%`).where('expires_at', '>=', now).execute();
  return rows.map((r) => r.owner);
}
