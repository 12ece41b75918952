import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { sourceFiles, type SourceFile } from '../helpers/source.js';

/**
 * No function in src/ is longer than ~150 lines. A function's length is its whole span, first line to
 * last, the functions written inside it included: a closure's inner functions share its state, so a
 * reader has to hold all of it at once. Split long ones into named parts at module level.
 */
const MAX_LINES = 150;

/**
 * Functions still over the limit, each with the length it may not exceed (only lowered, until the
 * entry can go) and why it is still long.
 */
const STILL_LONG: Record<string, { lines: number; why: string }> = {};

interface Measured {
  id: string;
  lines: number;
}

function nameOf(node: ts.SignatureDeclaration, source: ts.SourceFile): string {
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText(source);
  return `<anonymous at line ${source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1}>`;
}

/** Every function, method, accessor and arrow function with a body, and its length in lines. */
function measure(file: SourceFile): Measured[] {
  const source = ts.createSourceFile(file.name, file.text, ts.ScriptTarget.Latest, true);
  const line = (pos: number) => source.getLineAndCharacterOfPosition(pos).line;
  const out: Measured[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      out.push({ id: `${file.name} ${nameOf(node, source)}`, lines: line(node.getEnd()) - line(node.getStart(source)) + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Functions over the limit that are not listed, and listed ones that grew. */
function overLimit(files: SourceFile[], stillLong: typeof STILL_LONG): string[] {
  return files
    .flatMap(measure)
    .filter((f) => f.lines > (stillLong[f.id]?.lines ?? MAX_LINES))
    .map((f) => `${f.id}: ${f.lines} lines (at most ${stillLong[f.id]?.lines ?? MAX_LINES})`);
}

const fn = (name: string, bodyLines: number) => `export function ${name}() {\n${'  work();\n'.repeat(bodyLines - 2)}}\n`;

describe('function length', () => {
  const files = sourceFiles();

  it(`keeps every function in src/ to ${MAX_LINES} lines`, () => {
    assert.ok(files.length > 100, `read ${files.length} files`);
    assert.deepEqual(overLimit(files, STILL_LONG), []);
  });

  it('lists only functions that exist and are still over the limit', () => {
    const lengths = new Map(files.flatMap(measure).map((f) => [f.id, f.lines]));
    const stale = Object.keys(STILL_LONG).filter((id) => (lengths.get(id) ?? 0) <= MAX_LINES);
    assert.deepEqual(stale, []);
  });

  it('counts a function with what is written inside it', () => {
    const exact: SourceFile = { name: 'sending/a.ts', text: fn('fits', MAX_LINES) };
    const inner = `  const step = () => {\n${'    work();\n'.repeat(80)}  };\n`;
    const closure: SourceFile = {
      name: 'sending/b.ts',
      text: `export function createThing() {\n${inner}${inner}  return { step: () => step() };\n}\nconst arrow = (x: number) => {\n${'  work();\n'.repeat(MAX_LINES - 1)}};\n`,
    };
    assert.deepEqual(overLimit([exact, closure], {}), ['sending/b.ts createThing: 167 lines (at most 150)', 'sending/b.ts arrow: 151 lines (at most 150)']);
  });

  it('lets a listed function shrink but not grow', () => {
    const file: SourceFile = { name: 'features/x/service.ts', text: fn('createXService', 200) };
    assert.deepEqual(overLimit([file], { 'features/x/service.ts createXService': { lines: 210, why: 'test' } }), []);
    assert.deepEqual(overLimit([file], { 'features/x/service.ts createXService': { lines: 190, why: 'test' } }), [
      'features/x/service.ts createXService: 200 lines (at most 190)',
    ]);
  });
});
