import { execFileSync } from 'node:child_process';
import ts from 'typescript';

/**
 * The expand/contract rule for migrations (docs/upgrades.md): while a rolling upgrade runs, the previous
 * release's code runs against the new schema, so a migration's `up` may only add what that code cannot
 * trip over. This reads a migration's `up` and lists the schema changes that can break older code; the
 * check then looks for each one in the previous release's source (from git).
 */

export type Change =
  | { kind: 'drop-column' | 'rename-column' | 'set-not-null'; table: string; column: string }
  | { kind: 'drop-table' | 'rename-table'; table: string }
  /** A NOT NULL column without a default on an existing table: older code's inserts leave it out. */
  | { kind: 'not-null-without-default'; table: string; column: string };

const literal = (node: ts.Node | undefined): string | undefined =>
  node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;

/** The calls of a builder chain, innermost (db.schema.alterTable('x')) first. */
function chain(call: ts.CallExpression): Array<{ name: string; args: readonly ts.Expression[] }> {
  const calls: Array<{ name: string; args: readonly ts.Expression[] }> = [];
  let node: ts.Expression = call;
  while (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
    calls.unshift({ name: node.expression.name.text, args: node.arguments });
    node = node.expression.expression;
  }
  return calls;
}

const SQL_PATTERNS: Array<[RegExp, (m: RegExpExecArray) => Change]> = [
  [/alter\s+table\s+"?(\w+)"?\s+drop\s+column\s+(?:if\s+exists\s+)?"?(\w+)/gi, (m) => ({ kind: 'drop-column', table: m[1]!, column: m[2]! })],
  [/alter\s+table\s+"?(\w+)"?\s+rename\s+column\s+"?(\w+)/gi, (m) => ({ kind: 'rename-column', table: m[1]!, column: m[2]! })],
  [/alter\s+table\s+"?(\w+)"?\s+alter\s+column\s+"?(\w+)"?\s+set\s+not\s+null/gi, (m) => ({ kind: 'set-not-null', table: m[1]!, column: m[2]! })],
  [/alter\s+table\s+"?(\w+)"?\s+rename\s+to/gi, (m) => ({ kind: 'rename-table', table: m[1]! })],
  [/drop\s+table\s+(?:if\s+exists\s+)?"?(\w+)/gi, (m) => ({ kind: 'drop-table', table: m[1]! })],
];

/** The changes in `source`'s `up` that older code can trip over. */
export function riskyChanges(fileName: string, source: string): Change[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true);
  const up = file.statements.find((s): s is ts.FunctionDeclaration => ts.isFunctionDeclaration(s) && s.name?.text === 'up');
  if (!up?.body) return [];
  const changes: Change[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const calls = chain(node);
      const last = calls.at(-1)!;
      const table = literal(calls.find((c) => c.name === 'alterTable')?.args[0]);
      if (last.name === 'dropTable') {
        const name = literal(last.args[0]);
        if (name) changes.push({ kind: 'drop-table', table: name });
      } else if (table !== undefined) {
        const column = literal(last.args[0]);
        if (last.name === 'dropColumn' && column) changes.push({ kind: 'drop-column', table, column });
        if (last.name === 'renameColumn' && column) changes.push({ kind: 'rename-column', table, column });
        if (last.name === 'renameTo') changes.push({ kind: 'rename-table', table });
        if (last.name === 'alterColumn' && column && /setNotNull\(/.test(last.args[1]?.getText(file) ?? '')) changes.push({ kind: 'set-not-null', table, column });
        if (last.name === 'addColumn' && column) {
          const build = last.args[2]?.getText(file) ?? '';
          if (/\.notNull\(/.test(build) && !/\.defaultTo\(/.test(build)) changes.push({ kind: 'not-null-without-default', table, column });
        }
      }
    }
    if (ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'sql') {
      const text = node.template.getText(file);
      for (const [pattern, make] of SQL_PATTERNS) for (const m of text.matchAll(pattern)) changes.push(make(m as RegExpExecArray));
    }
    ts.forEachChild(node, visit);
  };
  visit(up.body);
  return changes;
}

/** Why a migration may break older code on purpose: a `// expand-contract: <reason>` line in it. */
export function declaredContract(source: string): string | undefined {
  return /\/\/\s*expand-contract:\s*(.+)/.exec(source)?.[1]?.trim();
}

/** A file's text in the previous release, through a reader (git in the check, a map in tests). */
export interface OldSource {
  files(): string[];
  read(path: string): string;
}

/** Where the previous release's code still uses what `change` removes: "file:line: text". */
export function stillUsed(change: Change, old: OldSource): string[] {
  const hits: string[] = [];
  const quoted = (name: string) => new RegExp(`['"\`]${name}['"\`]|['"\`]\\w+\\.${name}['"\`]|\\b${name}\\s*:`);
  const table = new RegExp(`['"\`]${change.table}['"\`]|['"\`]${change.table}(\\.| as )`);
  const column = 'column' in change ? change.column : '';
  for (const path of old.files()) {
    const text = old.read(path);
    if (!table.test(text)) continue;
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const used =
        change.kind === 'drop-table' || change.kind === 'rename-table'
          ? table.test(line)
          : change.kind === 'not-null-without-default' || change.kind === 'set-not-null'
            ? new RegExp(`insertInto\\(['"\`]${change.table}['"\`]`).test(line)
            : quoted(column).test(line);
      if (used) hits.push(`${path}:${i + 1}: ${line.trim().slice(0, 160)}`);
    });
  }
  return hits;
}

const git = (args: string[]) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

/** The source tree (src/) at `rev`, read from git without checking anything out. */
export function sourceAt(rev: string): OldSource {
  const files = git(['ls-tree', '-r', '--name-only', rev, '--', 'src/']).split('\n').filter((f) => f.endsWith('.ts'));
  return { files: () => files, read: (path) => git(['show', `${rev}:${path}`]) };
}

/**
 * The previous release for a migration: the commit before the one that added it (HEAD when it is not
 * committed yet). Every commit on main can be deployed, so that is the code still running while the
 * migration's release rolls out. Null when the migration came with the first commit (nothing ran
 * before it); undefined when this clone lacks the history (a shallow clone: git fetch --unshallow).
 */
export function previousRelease(migrationPath: string): string | null | undefined {
  const added = git(['log', '--diff-filter=A', '--format=%H %P', '--', migrationPath]).trim().split('\n').filter(Boolean).at(-1);
  if (!added) return git(['rev-parse', 'HEAD']).trim();
  const parent = added.split(' ')[1];
  if (parent) return parent;
  // A commit without parents is the first one, or, in a shallow clone, where the fetched history stops.
  return git(['rev-parse', '--is-shallow-repository']).trim() === 'true' ? undefined : null;
}
