import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importsOf, sourceFiles, type SourceFile } from '../helpers/source.js';

/**
 * Layers point one way: features use the sending engine, never the reverse. What both need (the event
 * log, suppressions) lives in src/domain/.
 */
function featureImports(files: SourceFile[]): string[] {
  return files.flatMap((f) => importsOf(f).filter((s) => s.startsWith('features/')).map((s) => `${f.name} imports ${s}`));
}

describe('src/sending layering', () => {
  it('imports nothing from src/features/', () => {
    const files = sourceFiles('sending');
    assert.ok(files.length > 20, `read ${files.length} files`);
    assert.deepEqual(featureImports(files), []);
  });

  it('notices a stray import of any form', () => {
    const stray: SourceFile = {
      name: 'sending/stray.ts',
      text: [
        "import { recordEvent } from '../features/events/repository.js';",
        "export { x } from '../features/posts/service.js';",
        "import type { Y } from \"../features/readers/service.js\";",
        "const z = await import('../features/subscribers/service.js');",
        "import '../features/auth/routes.js';",
        "import { fine } from '../domain/events.js';",
      ].join('\n'),
    };
    assert.deepEqual(featureImports([stray]), [
      'sending/stray.ts imports features/events/repository.js',
      'sending/stray.ts imports features/posts/service.js',
      'sending/stray.ts imports features/readers/service.js',
      'sending/stray.ts imports features/subscribers/service.js',
      'sending/stray.ts imports features/auth/routes.js',
    ]);
  });
});
