import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { startEnv, startNodeOptions } from '../../scripts/start-command.js';
import type { SinkStats } from './sink-server.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Peak resident set (VmHWM) of a live process, in MB, read from /proc. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/**
 * CPU seconds a local Postgres server has spent so far, all its processes together: the postmaster's own
 * and its reaped children's (backends that ended) from /proc/PID/stat, plus each live child's. Undefined
 * when the postmaster is not readable here (a remote server, or another user's without root).
 */
export function postgresServerCpuSeconds(postmasterPid: number): number | undefined {
  try {
    const ticks = (pid: number, withChildren: boolean) => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      // utime, stime, then cutime, cstime: fields 14–17 of stat(5), after the name.
      return Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    };
    let total = ticks(postmasterPid, true);
    for (const child of readFileSync(`/proc/${postmasterPid}/task/${postmasterPid}/children`, 'utf8').split(' ').filter(Boolean)) {
      try {
        total += ticks(Number(child), false);
      } catch {
        // It ended between the two reads: its time is in the postmaster's reaped total from the next read on.
      }
    }
    return total / 100;
  } catch {
    return undefined;
  }
}

/** The parent of a live process (for a Postgres backend: its postmaster), or undefined. */
export function parentPid(pid: number): number | undefined {
  try {
    const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** User+system CPU seconds of a live process, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

export interface SinkProcess {
  port: number;
  stats(): Promise<SinkStats>;
  reset(): Promise<void>;
  stop(): void;
}

/** A bench script (bench/NAME.ts) in its own process, once it has printed `listening PORT`. */
export async function forkListening(name: string, args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(path.join(PROJECT_ROOT, 'bench', `${name}.ts`), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      const m = /listening (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${name} exited (${code})`)));
  });
  return { child, port };
}

/** The sink in its own process; `args` as bench/sink.ts takes them (e.g. a quota). */
export async function startSink(args: string[] = []): Promise<SinkProcess> {
  const { child, port } = await forkListening('sink', ['0', ...args]);
  const ask = <T>(msg: string, key: string) =>
    new Promise<T>((resolve) => {
      const on = (m: unknown) => {
        if (m && typeof m === 'object' && key in m) {
          child.off('message', on);
          resolve((m as Record<string, T>)[key]!);
        }
      };
      child.on('message', on);
      child.send(msg);
    });
  return {
    port,
    stats: () => ask<SinkStats>('stats', 'stats'),
    reset: () => ask<boolean>('reset', 'reset').then(() => undefined),
    stop: () => child.kill(),
  };
}

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Milliseconds from spawn to the first 200 from /healthz. */
  startupMs: number;
  output(): string;
  stop(): Promise<void>;
}

/** The real built server (what `npm start` runs), as the process a writer would run. */
export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const child = spawn(process.execPath, [...startNodeOptions(), path.join(PROJECT_ROOT, 'dist', 'server.js')], {
    env: { ...startEnv(), PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', BASE_URL: baseUrl, LOG_LEVEL: 'warn', ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${baseUrl}/healthz`)).status === 200) break;
    } catch {
      /* not yet listening */
    }
    if (performance.now() - t0 > 60_000) throw new Error(`server not healthy after 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const startupMs = performance.now() - t0;
  return {
    child,
    baseUrl,
    startupMs,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
