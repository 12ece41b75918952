import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { declaredContract, previousRelease, riskyChanges, sourceAt, stillUsed, type OldSource } from './expand-contract.js';

/**
 * Migrations follow expand/contract (docs/upgrades.md): no migration drops, renames or tightens
 * what the previous release's code still uses, because during a rolling upgrade that code runs against
 * the new schema. The check reads each migration's `up` and the previous release's src/ from git.
 */

const migration = (up: string, down = '') =>
  `import type { Kysely } from 'kysely';\nexport async function up(db: Kysely<any>) {\n${up}\n}\nexport async function down(db: Kysely<any>) {\n${down}\n}\n`;

const oldCode = (files: Record<string, string>): OldSource => ({ files: () => Object.keys(files), read: (p) => files[p]! });

describe('the expand/contract check', () => {
  it('finds the changes older code can trip over, only in up', () => {
    const source = migration(
      [
        "await db.schema.alterTable('subscribers').dropColumn('nickname').execute();",
        "await db.schema.alterTable('posts').renameColumn('subject', 'title').execute();",
        "await db.schema.alterTable('posts').addColumn('kind', 'text', (c) => c.notNull()).execute();",
        "await db.schema.alterTable('posts').addColumn('mood', 'text', (c) => c.notNull().defaultTo('calm')).execute();",
        "await db.schema.alterTable('posts').addColumn('note', 'text').execute();",
        "await db.schema.createTable('fresh').addColumn('x', 'text', (c) => c.notNull()).execute();",
        "await db.schema.alterTable('tags').alterColumn('name', (c) => c.setNotNull()).execute();",
        "await db.schema.dropTable('old_things').execute();",
        'await sql`alter table events drop column payload`.execute(db);',
        'await sql`ALTER TABLE "imports" RENAME COLUMN "filename" TO "name"`.execute(db);',
      ].join('\n'),
      "await db.schema.alterTable('posts').dropColumn('kind').execute();",
    );
    assert.deepEqual(riskyChanges('x.ts', source), [
      { kind: 'drop-column', table: 'subscribers', column: 'nickname' },
      { kind: 'rename-column', table: 'posts', column: 'subject' },
      { kind: 'not-null-without-default', table: 'posts', column: 'kind' },
      { kind: 'set-not-null', table: 'tags', column: 'name' },
      { kind: 'drop-table', table: 'old_things' },
      { kind: 'drop-column', table: 'events', column: 'payload' },
      { kind: 'rename-column', table: 'imports', column: 'filename' },
    ]);
    assert.equal(declaredContract(`// expand-contract: 2026_12_01_0020 stopped reading nickname\n${source}`), '2026_12_01_0020 stopped reading nickname');
  });

  it('fails a drop of a column the previous release still reads, and passes one it no longer reads', () => {
    const drop = { kind: 'drop-column' as const, table: 'subscribers', column: 'nickname' };
    const reads = oldCode({
      'src/features/readers/repository.ts': "db.selectFrom('subscribers').select(['id', 'nickname']).where('email', '=', e)",
      'src/features/posts/repository.ts': "db.selectFrom('posts').select('nickname')", // another table's column of that name
    });
    assert.deepEqual(stillUsed(drop, reads), ["src/features/readers/repository.ts:1: db.selectFrom('subscribers').select(['id', 'nickname']).where('email', '=', e)"]);
    const stopped = oldCode({ 'src/features/readers/repository.ts': "db.selectFrom('subscribers').select(['id', 'name'])" });
    assert.deepEqual(stillUsed(drop, stopped), []);
    const qualified = oldCode({ 'src/a.ts': "db.selectFrom('subscribers as s').select('s.nickname')" });
    assert.equal(stillUsed(drop, qualified).length, 1);
    const inserts = oldCode({ 'src/a.ts': "await db.insertInto('posts').values({ subject })" });
    assert.equal(stillUsed({ kind: 'not-null-without-default', table: 'posts', column: 'kind' }, inserts).length, 1);
  });

  const inGit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim() === 'true';
    } catch {
      return false;
    }
  })();

  it("holds for every migration against its previous release's code", { skip: !inGit && 'not a git checkout' }, (t) => {
    const dir = path.join(PROJECT_ROOT, 'migrations');
    const violations: string[] = [];
    for (const name of readdirSync(dir).filter((f) => /^\d{4}_\d{2}_\d{2}_\d{4}_[\w-]+\.ts$/.test(f)).sort()) {
      const file = path.join('migrations', name);
      const source = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
      const changes = riskyChanges(name, source);
      if (changes.length === 0 || declaredContract(source)) continue;
      const base = previousRelease(file);
      if (base === undefined) return t.skip(`${file}: a shallow clone lacks the history to find its previous release (git fetch --unshallow)`);
      if (base === null) continue;
      const old = sourceAt(base);
      for (const change of changes) {
        const uses = stillUsed(change, old);
        if (uses.length > 0) {
          const what = 'column' in change ? `${change.table}.${change.column}` : change.table;
          violations.push(`${name}: ${change.kind} ${what}, still used by ${base.slice(0, 10)}:\n    ${uses.slice(0, 5).join('\n    ')}`);
        }
      }
    }
    assert.deepEqual(violations, [], 'see docs/upgrades.md: expand first, contract a release later');
    // The same reading of git catches a drop of a column today's code reads.
    const head = sourceAt('HEAD');
    assert.ok(stillUsed({ kind: 'drop-column', table: 'subscribers', column: 'email' }, head).length > 0);
    assert.ok(stillUsed({ kind: 'drop-table', table: 'deliveries' }, head).length > 0);
  });
});
