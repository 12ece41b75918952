import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { sourceFiles, type SourceFile } from '../helpers/source.js';

/**
 * SQL lives in repositories: services, the engine, housekeeping, jobs and the CLI call named functions
 * that take `db` first. A module is a repository by its name (`repository.ts` or `*-repository.ts`) or
 * by an entry below, which says why it holds SQL although its name does not say so.
 */
const ALLOWED: Record<string, string> = {
  'db/connect.ts': 'opens the database and sets each connection up (pragmas, the Postgres schema)',
  'db/migrate.ts': 'the migration runner itself',
  'db/statistics.ts': "keeps the query planner's statistics fresh",
  'db/text-functions.ts': 'portable SQL expressions that repositories compose (one per dialect difference)',
  'domain/events.ts': "the events table's repository, shared by the features and the sending engine",
  'domain/suppressions.ts': "the suppressions table's repository, shared by the features and the sending engine",
  'features/imports/bulk-rows.ts': "builds the bulk-row SQL fragment the import repositories' statements read from",
  'sending/post-transitions.ts': "the send state machine: every write of a post's status is a named statement there",
  'sending/delivery-transitions.ts': "the send state machine: every write of a delivery's status is a named statement there",
};

const BUILDERS = new Set(['selectFrom', 'selectNoFrom', 'updateTable', 'insertInto', 'replaceInto', 'deleteFrom', 'mergeInto', 'executeQuery']);

const isRepositoryName = (name: string) => /(^|\/)([\w-]+-)?repository\.ts$/.test(name);

/** Where a file builds SQL: a Kysely builder call (`db.selectFrom(…)`, …) or the `sql` tag and its helpers. */
function sqlSites(file: SourceFile): string[] {
  const source = ts.createSourceFile(file.name, file.text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const at = (node: ts.Node, what: string) => found.push(`${file.name}:${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1} ${what}`);
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (ts.isPropertyAccessExpression(callee) && BUILDERS.has(callee.name.text)) at(node, callee.name.text);
      else if (ts.isIdentifier(callee) && BUILDERS.has(callee.text)) at(node, callee.text);
      else if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'sql') at(node, `sql.${callee.name.text}`);
    } else if (ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'sql') {
      at(node, 'sql``');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** SQL built outside the repositories. */
function straySql(files: SourceFile[]): string[] {
  return files.filter((f) => !isRepositoryName(f.name) && !(f.name in ALLOWED)).flatMap(sqlSites);
}

describe('SQL lives in repositories', () => {
  const files = sourceFiles();

  it('is built only by repository modules', () => {
    assert.ok(files.length > 100, `read ${files.length} files`);
    assert.deepEqual(straySql(files), []);
  });

  it('allows only modules that exist and build SQL', () => {
    const byName = new Map(files.map((f) => [f.name, f]));
    const stale = Object.keys(ALLOWED).filter((name) => !byName.has(name) || sqlSites(byName.get(name)!).length === 0);
    assert.deepEqual(stale, []);
  });

  it('notices a stray query in a service, in any form', () => {
    const stray: SourceFile = {
      name: 'features/readers/service.ts',
      text: [
        "import { sql } from 'kysely';",
        '// db.selectFrom(\'in a comment\') is not a query',
        "const a = await db.selectFrom('subscribers').selectAll().execute();",
        "await trx.updateTable('users').set({ name: 'x' }).execute();",
        "await db\n  .insertInto('events')\n  .values(row)\n  .execute();",
        "await db.deleteFrom('sessions').execute();",
        'const b = await sql<{ n: number }>`select 1 as n`.execute(db);',
        "const c = sql.lit(1);",
        "q.where(({ exists, selectFrom }) => exists(selectFrom('tags')));",
      ].join('\n'),
    };
    assert.deepEqual(straySql([stray]), [
      'features/readers/service.ts:3 selectFrom',
      'features/readers/service.ts:4 updateTable',
      'features/readers/service.ts:5 insertInto',
      'features/readers/service.ts:9 deleteFrom',
      'features/readers/service.ts:10 sql``',
      'features/readers/service.ts:11 sql.lit',
      'features/readers/service.ts:12 selectFrom',
    ]);
  });

  it('lets a repository build SQL', () => {
    const repository: SourceFile = { name: 'features/readers/repository.ts', text: "await db.selectFrom('subscribers').selectAll().execute();" };
    const named: SourceFile = { name: 'sending/lease-repository.ts', text: "await db.deleteFrom('leases').execute();" };
    assert.deepEqual(straySql([repository, named]), []);
  });
});
