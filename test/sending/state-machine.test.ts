import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DELIVERY_STATUSES, DELIVERY_TRANSITIONS, OPEN_STATES, POST_STATUSES, POST_TRANSITIONS, type DeliveryFrom, type PostFrom } from '../../src/sending/states.js';
import type { DeliveryStatus } from '../../src/db/tables/posts.js';
import { sourceFiles, type SourceFile } from '../helpers/source.js';

/** The only modules that may write a post's or a delivery's status (see src/sending/states.ts). */
const STATE_MODULES = new Set(['sending/post-transitions.ts', 'sending/delivery-transitions.ts']);

/** The text of the balanced parentheses opening at `open` (which holds '('), without them. */
function parenthesised(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth += 1;
    else if (text[i] === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

const SETS_STATUS = /(?:^|[\s{,(])(?:status|['"]status['"])\s*(?:[:,}]|$)/m;

/**
 * Where a file writes the status of a post or a delivery: a Kysely `updateTable('posts' | 'deliveries')`
 * whose `.set(…)` names `status`, or raw SQL `update posts | deliveries set …` whose SET clause does.
 * Updates of other tables' statuses (subscriptions, the mail outbox, imports) and updates of these
 * tables that only filter on status are not writes of it.
 */
function statusWrites(file: SourceFile): string[] {
  const found: string[] = [];
  const line = (index: number) => file.text.slice(0, index).split('\n').length;
  for (const m of file.text.matchAll(/\.updateTable\(\s*['"](posts|deliveries)(?:\s+as\s+\w+)?['"]\s*\)/g)) {
    // The statement ends at the next statement-starting builder call; its .set() comes before that.
    const rest = file.text.slice(m.index + m[0].length);
    const end = rest.search(/\.(?:updateTable|selectFrom|insertInto|deleteFrom)\(|\.execute(?:TakeFirst(?:OrThrow)?)?\(/);
    const statement = end === -1 ? rest : rest.slice(0, end);
    for (const set of statement.matchAll(/\.set\(/g)) {
      const args = parenthesised(statement, set.index + '.set'.length);
      if (SETS_STATUS.test(args) || /^\s*['"]status['"]/.test(args)) found.push(`${file.name}:${line(m.index)} sets ${m[1]}.status`);
    }
  }
  for (const m of file.text.matchAll(/\bupdate\s+"?(posts|deliveries)"?\s+set\s+([\s\S]*?)(?:\bwhere\b|\bfrom\b|`|$)/gi)) {
    if (/(?:^|[\s,])"?status"?\s*=/.test(m[2]!)) found.push(`${file.name}:${line(m.index)} sets ${m[1]}.status in SQL`);
  }
  return found;
}

/**
 * The moves of the send loop's raw delivery updates (`update deliveries set status = 'to' … where …
 * status = 'from'` or `status in ('a', 'b')`): the builder's are typed against the table, these are read
 * here. Statuses of joined tables (`p.status`, `sn.status`) are not the row's.
 */
function rawDeliveryMoves(file: SourceFile): Array<{ from: string[]; to: string; line: number }> {
  const moves: Array<{ from: string[]; to: string; line: number }> = [];
  for (const m of file.text.matchAll(/update\s+deliveries\s+set\s+status\s*=\s*'(\w+)'([^`]*)`/g)) {
    const where = m[2]!.split(/\bwhere\b/)[1] ?? '';
    const from = [...where.matchAll(/(?:^|[\s(])(?:deliveries\.)?status\s*(?:=\s*'(\w+)'|in\s*\(([^)]*)\))/g)].flatMap((w) =>
      w[1] ? [w[1]] : [...w[2]!.matchAll(/'(\w+)'/g)].map((q) => q[1]!),
    );
    moves.push({ from, to: m[1]!, line: file.text.slice(0, m.index).split('\n').length });
  }
  return moves;
}

describe('the send state machine', () => {
  it('is written only by the state modules', () => {
    const files = sourceFiles();
    assert.ok(files.length > 80, `read ${files.length} files`);
    const strays = files.filter((f) => !STATE_MODULES.has(f.name)).flatMap(statusWrites);
    assert.deepEqual(strays, []);
  });

  it('finds the writes the state modules hold (the check sees what it looks for)', () => {
    const files = sourceFiles('sending').filter((f) => STATE_MODULES.has(f.name));
    assert.equal(files.length, STATE_MODULES.size);
    const writes = files.flatMap(statusWrites);
    assert.ok(writes.filter((w) => w.includes('posts.status')).length >= 10, writes.join('\n'));
    assert.ok(writes.filter((w) => w.includes('deliveries.status in SQL')).length >= 5, writes.join('\n'));
    assert.ok(writes.filter((w) => w.includes('deliveries.status') && !w.includes('in SQL')).length >= 5, writes.join('\n'));
  });

  it('notices a stray status write of any form, and only those', () => {
    const stray: SourceFile = {
      name: 'sending/stray.ts',
      text: [
        "await db.updateTable('deliveries').set({ status: 'sent', updated_at: now }).where('id', '=', id).execute();",
        "await trx.updateTable('posts').set((eb) => ({ sent_at: eb.val(now), status })).where('id', '=', id).execute();",
        "await db.updateTable('posts as p').set('status', 'sent').execute();",
        "await sql`update deliveries set error = ${e}, status = 'failed' where id = ${id}`.execute(db);",
        'await sql`UPDATE "posts" SET status = ${s} WHERE id = 1`.execute(db);',
        // Not status writes of posts or deliveries:
        "await db.updateTable('deliveries').set({ email: 'erased' }).where('status', 'in', ['sent']).execute();",
        "await db.updateTable('subscriptions').set({ status: 'unsubscribed' }).execute();",
        "await sql`update mail_outbox set status = 'sent' where id = 1`.execute(db);",
        "await sql`update deliveries set email = 'x' where status = 'sent'`.execute(db);",
        "await db.updateTable('posts').set({ relay_failures: 0 }).where('status', '=', 'sending').execute();",
        "await db.updateTable('posts').set({ paused_reason: 'x' }).execute(); await db.selectFrom('x').set({ status: 1 });",
      ].join('\n'),
    };
    assert.deepEqual(statusWrites(stray), [
      'sending/stray.ts:1 sets deliveries.status',
      'sending/stray.ts:2 sets posts.status',
      'sending/stray.ts:3 sets posts.status',
      'sending/stray.ts:4 sets deliveries.status in SQL',
      'sending/stray.ts:5 sets posts.status in SQL',
    ]);
  });

  it('allows every move the raw delivery updates make', () => {
    const file = sourceFiles('sending').find((f) => f.name === 'sending/delivery-transitions.ts')!;
    const moves = rawDeliveryMoves(file);
    // skipped, claimed (its rows are locked by the claim's SELECT, so it names ids only), attempting, queued, sent
    assert.deepEqual(moves.map((m) => m.to), ['skipped', 'claimed', 'attempting', 'queued', 'sent']);
    for (const { from, to, line } of moves) {
      if (to !== 'claimed') assert.ok(from.length > 0, `delivery-transitions.ts:${line}: the update to ${to} names no status it may leave`);
      for (const f of from) assert.ok(DELIVERY_TRANSITIONS[f as DeliveryStatus].includes(to as never), `delivery-transitions.ts:${line}: ${f} → ${to}`);
    }
    assert.deepEqual(
      rawDeliveryMoves({ name: 'x.ts', text: "sql`update deliveries set status = 'queued' where p.status = 'sending' and deliveries.status in ('sent', 'unknown')`" }),
      [{ from: ['sent', 'unknown'], to: 'queued', line: 1 }],
    );
  });

  it('lists every status, with the moves between them', () => {
    assert.deepEqual(POST_STATUSES, ['draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled']);
    assert.deepEqual(DELIVERY_STATUSES, ['queued', 'claimed', 'attempting', 'sent', 'retry', 'failed', 'unknown', 'skipped', 'cancelled']);
    for (const [from, to] of Object.entries(POST_TRANSITIONS)) for (const s of to) assert.ok(POST_STATUSES.includes(s), `${from} → ${s}`);
    for (const [from, to] of Object.entries(DELIVERY_TRANSITIONS)) for (const s of to) assert.ok(DELIVERY_STATUSES.includes(s), `${from} → ${s}`);
    // Final states: nothing leaves them.
    assert.deepEqual(POST_TRANSITIONS.cancelled, []);
    for (const s of ['sent', 'skipped', 'cancelled'] as const) assert.deepEqual(DELIVERY_TRANSITIONS[s], []);
    // A post is finished when no delivery is in a state that still leads to an attempt.
    for (const s of OPEN_STATES) assert.ok(DELIVERY_TRANSITIONS[s].length > 0, s);
  });

  it('types the statuses a write may leave by the table', () => {
    const fine: Array<DeliveryFrom<'claimed'>> = ['queued', 'retry'];
    const alsoFine: PostFrom<'sending'> = 'paused';
    // @ts-expect-error: a sent delivery is never claimed again
    const sentAgain: DeliveryFrom<'claimed'> = 'sent';
    // @ts-expect-error: a cancelled post never sends
    const revived: PostFrom<'sending'> = 'cancelled';
    // @ts-expect-error: a claimed row may fail or go back to the queue, but is never `unknown` (it was not attempted)
    const unattempted: DeliveryFrom<'failed' | 'unknown'> = 'claimed';
    assert.deepEqual([fine, alsoFine, sentAgain, revived, unattempted], [['queued', 'retry'], 'paused', 'sent', 'cancelled', 'claimed']);
  });
});
