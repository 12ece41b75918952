import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's `src/` folder, for tests that read the code itself (layering and ownership rules). */
export const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

export interface SourceFile {
  /** Relative to `src/`, with forward slashes: `sending/engine.ts`. */
  name: string;
  text: string;
}

/** Every .ts file under `src/<folder>` (all of `src/` when folder is ''), sorted by name. */
export function sourceFiles(folder = ''): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) out.push({ name: path.relative(SRC, full).split(path.sep).join('/'), text: readFileSync(full, 'utf8') });
    }
  };
  walk(path.join(SRC, folder));
  return out;
}

/** Module specifiers a file imports or re-exports, static or dynamic, resolved against `src/` when relative. */
export function importsOf(file: SourceFile): string[] {
  const specifiers = [...file.text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
  return specifiers.map((s) => (s.startsWith('.') ? path.posix.normalize(path.posix.join(path.posix.dirname(file.name), s)) : s));
}
