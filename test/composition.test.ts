import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * One composition root: buildApp (src/app.ts) builds every feature's service once and hands it to the
 * routes that use it, so what a test drives is what production runs. A route plugin builds nothing and
 * reads no other feature's repository; it calls its own feature's service.
 */

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

const relative = (file: string) => path.relative(SRC, file).split(path.sep).join('/');
const routeFiles = tsFiles(path.join(SRC, 'features')).filter((f) => /routes\.ts$/.test(f));

/** `createXService(` calls (not the definitions) in a source text. */
function serviceBuilds(text: string): string[] {
  return [...text.matchAll(/(?<!function\s)\bcreate[A-Z]\w*Service\s*\(/g)].map((m) => m[0].replace(/\s*\($/, ''));
}

/** Modules a routes file imports that belong to another feature's data layer or to the engine's. */
function foreignDataImports(file: string, text: string): string[] {
  const feature = relative(file).split('/')[1];
  return [...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]/g)]
    .map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(relative(file)), m[1]!)))
    .filter((target) => /(^|\/|-)repository\.js$/.test(target))
    .filter((target) => !target.startsWith(`features/${feature}/`));
}

describe('one composition root', () => {
  it('finds the route plugins', () => {
    assert.ok(routeFiles.length >= 10, routeFiles.map(relative).join(', '));
  });

  it('builds no service inside a route plugin', () => {
    const found = routeFiles.flatMap((f) => serviceBuilds(readFileSync(f, 'utf8')).map((call) => `${relative(f)}: ${call}`));
    assert.deepEqual(found, []);
  });

  it('builds each service in buildApp only, once', () => {
    const calls = tsFiles(SRC).flatMap((f) => serviceBuilds(readFileSync(f, 'utf8')).map((call) => ({ file: relative(f), call })));
    assert.deepEqual(calls.filter((c) => c.file !== 'app.ts'), []);
    const inApp = calls.map((c) => c.call).sort();
    assert.deepEqual(inApp, [...new Set(inApp)], 'no service is built twice');
    assert.ok(inApp.length >= 10, inApp.join(', '));
  });

  it('lets a route read no other feature’s repository', () => {
    const found = routeFiles.flatMap((f) => foreignDataImports(f, readFileSync(f, 'utf8')).map((m) => `${relative(f)} imports ${m}`));
    assert.deepEqual(found, []);
  });

  it('notices a stray build or a foreign repository import', () => {
    const stray = [
      "import { listNewsletters } from '../newsletters/repository.js';",
      "import { listMail } from '../../sending/mail-outbox-repository.js';",
      "import { listTags } from './repository.js';",
      'const posts = opts.posts ?? createPostService({ ...app.ctx });',
      'export function createPostService(deps) {}',
    ].join('\n');
    const file = path.join(SRC, 'features', 'posts', 'routes.ts');
    assert.deepEqual(serviceBuilds(stray), ['createPostService']);
    assert.deepEqual(foreignDataImports(file, stray), ['features/newsletters/repository.js', 'sending/mail-outbox-repository.js']);
  });
});
