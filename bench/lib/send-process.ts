import { spawn } from 'node:child_process';
import path from 'node:path';
import { startEnv, startNodeOptions } from '../../scripts/start-command.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';

/** What bench/send-worker.mjs reports of its send. */
export interface SendWorkerReport {
  startedAt: number;
  snapshotMs: number;
  rssBeforeMb: number;
  peakRssMb: number;
  cpuSeconds: number;
  status: string;
  counts: Record<string, number>;
}

/**
 * Sends post `postId` of the database at `databaseUrl` in its own Gazette process (bench/send-worker.mjs)
 * to the relay at `smtpUrl` and returns its report once the post is finished (or paused). The process
 * runs with the Node options and environment of `npm start`; BENCH_PROFILE=1 writes a V8 CPU profile of it to
 * bench/out/profiles (open it in Chrome DevTools); BENCH_NODE_ARGS adds more (e.g.
 * "--max-semi-space-size=4", which then wins). `env` adds settings (SMTP_POOL_SIZE, SEND_RATE, DKIM_*).
 */
export async function runSendWorker(databaseUrl: string, smtpUrl: string, postId: number, env: Record<string, string>): Promise<SendWorkerReport> {
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.join(PROJECT_ROOT, 'bench', 'out', 'profiles')}`] : [];
  const nodeArgs = [...startNodeOptions(), ...profile, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, path.join(PROJECT_ROOT, 'bench', 'send-worker.mjs'), String(postId)], {
    env: {
      ...startEnv(),
      PATH: process.env.PATH ?? '',
      DATABASE_URL: databaseUrl,
      SMTP_URL: smtpUrl,
      BASE_URL: 'https://news.bench.example',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`send worker failed (${code}): ${out}`);
  return JSON.parse(out.trim().split('\n').pop()!) as SendWorkerReport;
}
