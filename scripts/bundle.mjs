#!/usr/bin/env node
// The second half of `npm run build`: after tsc has compiled src/ and migrations/ to dist/, bundle the
// server and its worker threads into one file each (dist/server.js, dist/<worker>.js), which is what
// `npm start` and the image run.
//
// Why: a Node process spends most of its start-up finding, reading and linking modules (fastify, zod,
// nodemailer and their dependencies are several hundred files). One file per entry point spares most of
// that work (the benchmark measures start-up to healthy).
//
// kysely is in the bundle: loaded from node_modules it was ~280 module files and ~145 ms of every start.
// The migrations in dist/migrations, loaded at run time, take only types from it (migrations/lib/schema.ts
// tells the dialects apart without kysely's classes), so no second copy is ever loaded next to it.
//
// Left out of the bundle, loaded from node_modules as before:
//   - native addons (better-sqlite3, @node-rs/argon2);
//   - what is only loaded on first use, so that start-up never pays for it: pg (Postgres only), juice
//     (email CSS inlining), mailparser (dev outbox viewer);
//   - @sentry/node, an optional dependency loaded only when SENTRY_DSN is set (an image built without it
//     must still bundle);
//   - sharp (image uploads, with its native libvips) and stripe (paid plans): each is loaded on first use,
//     and together they would add ~60 MB to every process that never uploads an image or sells a plan.
// The workers, and the roles of the shared background thread, are found next to the module that starts them
// (src/lib/worker-thread.ts, src/lib/thread-host.ts): here all of them sit flat in dist/, next to server.js.
import { readFileSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const external = ['better-sqlite3', '@node-rs/argon2', 'pg', 'juice', 'mailparser', '@sentry/node', 'sharp', 'stripe'];

const result = await build({
  entryPoints: {
    server: 'dist/src/server.js',
    'smtp-thread-worker': 'dist/src/sending/smtp-thread-worker.js',
    'dkim-worker': 'dist/src/sending/dkim-worker.js',
    'checkpointer-worker': 'dist/src/db/checkpointer-worker.js',
    'thread-host-worker': 'dist/src/lib/thread-host-worker.js',
    'sqlite-backup-worker': 'dist/src/backup/sqlite-backup-worker.js',
  },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  // CommonJS packages inside an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __gazetteRequire } from 'node:module'; const require = __gazetteRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});

// V8 keeps a script's source for as long as the script lives, one byte a character only while every
// character fits in Latin-1. esbuild escapes what is in strings and regular expressions, but not the
// comments it keeps (an em dash or an arrow in a dependency’s doc comment), and one such character makes
// V8 store the whole 8 MB bundle two bytes a character: 7-8 MB more in every process. In comments, and anywhere else
// JavaScript reads a \u escape, the escape means the same character.
for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(file, ascii);
}
