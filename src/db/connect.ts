import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type CompiledQuery } from 'kysely';
import type { ClientBase, QueryConfig } from 'pg';
import { ConfigError, redactUrl, type DatabaseConfig } from '../config.js';
import type { Database, Db, Dialect } from './database.js';
import { startHosted, type HostedRole } from '../lib/thread-host.js';
import type { CheckpointerMessage } from './checkpointer-worker.js';
import { registerSqliteFunctions } from './sqlite-functions.js';

export interface DbHandle {
  db: Db;
  /** The sending engine's send loop: its own small pool on Postgres (see openPostgres), `db` on SQLite. */
  sendDb: Db;
  dialect: Dialect;
  /** SQLite in a file: the background checkpointer (see startCheckpointer). */
  checkpointer?: Checkpointer;
  /** SQLite in a file: long read-only queries run on the checkpointer's thread (see Checkpointer.read). */
  readAside?: ReadAside;
  /** Answers quickly whether the database responds (used by /healthz). */
  ping(): Promise<boolean>;
  /** Postgres: each connection pool's size, idle and waiting counts (for /metrics); SQLite has no pool. */
  poolStats?(): PoolStats[];
  close(): Promise<void>;
}

/**
 * Runs a read-only query away from the main thread (SQLite: the checkpoint thread's connection, see
 * Checkpointer.read); null when it cannot, and the caller runs the query itself.
 */
export type ReadAside = (query: CompiledQuery) => Promise<unknown[] | null>;

export interface PoolStats {
  pool: string;
  /** Connections open (idle or in use). */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
  max: number;
}

export interface ConnectOptions {
  /** Keep retrying an unreachable server this long at start-up (compose start order is not guaranteed). */
  connectTimeoutMs?: number;
  /** Postgres only: run every query in this schema (tests use one schema per file). */
  searchPath?: string;
  onRetry?: (message: string) => void;
  sleep?: (ms: number) => Promise<void>;
  /** SQLite in a file: how often the background checkpointer runs (default 1 s). */
  checkpointIntervalMs?: number;
}

/** How long /healthz waits for the database before calling it unreachable. */
export const PING_TIMEOUT_MS = 2000;

/** The query's answer, or false when it fails or takes longer than `ms`. */
function answersWithin(query: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  return Promise.race([query.catch(() => false), late]).finally(() => clearTimeout(timer));
}

export async function connectDatabase(config: DatabaseConfig, options: ConnectOptions = {}): Promise<DbHandle> {
  return config.kind === 'sqlite' ? openSqlite(config.file, options) : openPostgres(config.url, options);
}

function openSqlite(file: string, options: ConnectOptions): DbHandle {
  let sqlite: SqliteDatabase.Database;
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    sqlite = new SqliteDatabase(file);
    sqlite.pragma('journal_mode = WAL');
    // FULL makes every commit durable across power loss, not only across a killed process: the sending
    // engine's "attempting" marker must survive both. Group commits keep the fsync count low.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // 8 MB of page cache instead of better-sqlite3's 16 MB: a send reads and updates the outbox in id
    // order, so a bigger cache only holds pages it is done with and raises a big send's peak memory.
    sqlite.pragma('cache_size = -8000');
    registerSqliteFunctions(sqlite);
  } catch (err) {
    throw new ConfigError([
      { variable: 'DATABASE_URL', message: `cannot open the SQLite database at ${file}: ${(err as Error).message}` },
    ]);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(sqlite, file, options.checkpointIntervalMs);
  return {
    db,
    sendDb: db,
    dialect: 'sqlite',
    ...(checkpointer ? { checkpointer, readAside: (query: CompiledQuery) => checkpointer.read(query.sql, query.parameters) } : {}),
    // Through Kysely, which runs one query at a time on the one connection: a request holding that
    // connection makes the ping wait too, so a stuck process reports itself instead of saying ok.
    ping: () => answersWithin(sql`select 1 as ok`.execute(db).then((r) => r.rows.length === 1), PING_TIMEOUT_MS),
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

export interface Checkpointer {
  /** Runs one checkpoint now (tests); resolves with SQLite's answer, or null when it could not run. */
  round(): Promise<{ busy: number; log: number; checkpointed: number } | null>;
  /**
   * Runs a read-only statement on the background thread's connection: a count over a million rows takes
   * ~100 ms, which on the main thread would hold every request and the send loop (there it holds only the
   * SMTP pool's sockets, whose relays wait that long at worst). Null when it cannot run there (the thread is
   * gone, the statement writes, the database is busy): the caller runs it itself.
   */
  read(sql: string, parameters: readonly unknown[]): Promise<unknown[] | null>;
  stop(): Promise<void>;
}

/** Pages the write-ahead log may reach before the main connection checkpoints by itself after all. */
const FALLBACK_AUTOCHECKPOINT = 10_000;

/** Times the checkpointer starts again after its thread ended under it, before commits take over. */
const CHECKPOINTER_RESTARTS = 3;

/**
 * Checkpoints in the background thread (lib/thread-host.ts) with its own connection, every `intervalMs`.
 * SQLite otherwise checkpoints inside whichever commit pushes the log past 1,000 pages: on the main thread,
 * in the middle of a request or a send tick, copying pages and fsyncing the database file (5 ms in a send,
 * about 30 ms per batch of a large import). The main connection keeps a much higher limit as a fallback,
 * and goes back to SQLite's default if the thread cannot run. The thread is shared with the SMTP pool: when
 * a bug there ends it, the checkpointer starts again in a new one.
 *
 * Once a second by default: a round copies each page once however often it changed since the last one (a
 * send rewrites the same outbox pages many times a second), and while it copies and fsyncs, the SMTP sockets
 * in the shared thread wait. In a 100,000-recipient send, rounds every 100 ms copied 3.7 times as many
 * pages and held the thread 7 times as long as rounds every second; the log stays far below the fallback.
 */
export function startCheckpointer(sqlite: SqliteDatabase.Database, file: string, intervalMs = 1000): Checkpointer {
  sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT}`);
  let role: HostedRole | undefined;
  let restarts = 0;
  const replies: Array<(msg: { t: string; result?: unknown }) => void> = [];
  let stopping: Promise<void> | undefined;

  const start = (): HostedRole => {
    const started = startHosted(import.meta.url, 'checkpointer-worker', { file, intervalMs });
    started.on('message', (msg: { t: string; result?: unknown }) => replies.shift()?.(msg));
    const gone = (why: unknown) => {
      if (role !== started) return;
      role = undefined;
      for (const reply of replies.splice(0)) reply({ t: 'gone', result: null });
      const reason = why instanceof Error ? why.message : `exit code ${String(why)}`;
      if (!stopping && restarts < CHECKPOINTER_RESTARTS && sqlite.open) {
        restarts++;
        role = start();
        process.emitWarning(`the SQLite checkpoint thread stopped (${reason}); started again`);
        return;
      }
      if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
      // Not fatal (commits checkpoint again, as SQLite does by default), but an operator should know.
      if (!stopping) process.emitWarning(`the SQLite checkpoint thread stopped (${reason}); commits checkpoint again`);
    };
    started.on('error', gone);
    started.on('exit', gone);
    return started;
  };
  role = start();

  const ask = <T>(message: CheckpointerMessage) =>
    new Promise<T>((resolve) => {
      const current = role;
      if (!current) return resolve(null as T);
      current.ref(); // an answer is awaited: keep the process up for it
      replies.push((msg) => {
        if (replies.length === 0) role?.unref();
        resolve((msg.result ?? null) as T);
      });
      current.postMessage(message);
    });
  return {
    round: () => ask({ t: 'round' }),
    // Once stopping, the main thread reads for itself: the thread's connection is closing.
    read: (sql, parameters) => (stopping ? Promise.resolve(null) : ask({ t: 'read', sql, parameters: [...parameters] })),
    stop: () =>
      (stopping ??= (async () => {
        await ask({ t: 'stop' });
        const current = role;
        role = undefined;
        await current?.terminate();
      })()),
  };
}

/**
 * Kysely's SQLite driver prepares every query afresh (about 30 µs each, more than running most of
 * them); the sending engine runs the same few statements thousands of times a second. Statements are
 * kept by their SQL text, at most `max` of them, the least recently used dropped first. Safe because
 * the driver runs one query at a time on its one connection, and a statement still being iterated (a
 * streamed query) is never handed out twice: a busy one is replaced by a fresh one.
 */
export function withStatementCache(sqlite: SqliteDatabase.Database, max = 200): { prepare(sql: string): SqliteDatabase.Statement; close(): void } {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql) {
      let stmt = cache.get(sql);
      if (stmt && !stmt.busy) {
        // Re-inserting keeps the map in least-recently-used order.
        cache.delete(sql);
      } else {
        stmt = sqlite.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
    close: () => {
      cache.clear();
      sqlite.close();
    },
  };
}

const PREPARED = /^\/\* prepared:([a-z0-9_]+) \*\//;

/**
 * Postgres parses and plans every unnamed statement afresh; for the send loop's marker update that took
 * 0.8 ms, longer than running it. A statement whose text starts with `/* prepared:NAME *\/` is sent as the
 * named prepared statement NAME instead: planned once per connection (with a generic plan once Postgres
 * finds it no worse). Only marked statements are named, because each name lives on the server for the
 * connection's lifetime; their text never varies with the number of values (see idSet).
 */
export function namePreparedStatements(client: { query: (...args: never[]) => unknown }): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const text = args[0];
    const m = typeof text === 'string' ? PREPARED.exec(text) : null;
    if (m) return query({ name: m[1], text, values: args[1] }, ...args.slice(2));
    return query(...args);
  }) as typeof client.query;
}

// Errors worth waiting out at start-up: the server is not up yet, or its name does not resolve yet.
const TRANSIENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', '57P03']);

async function openPostgres(url: string, options: ConnectOptions): Promise<DbHandle> {
  // Loaded only for Postgres, so the SQLite default does not pay for it at start-up.
  const { default: pg } = await import('pg');
  const newPool = (max: number, genericPlans: boolean) =>
    new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: 5000,
      // Awaited before the pool hands the connection to anyone (a query sent from the 'connect' event
      // would overlap the caller's first query, which pg deprecates).
      onConnect: (async (client: ClientBase) => {
        namePreparedStatements(client);
        if (genericPlans) await client.query('set plan_cache_mode = force_generic_plan').catch(() => {});
      }) as (client: ClientBase) => void,
      ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
      // Timestamps are epoch milliseconds in bigint columns; counts are int8 too. Both fit in a double.
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
      },
    });
  const pool = newPool(10, false);
  // The send loop's own connections. Its few statements run thousands of times with the same shape of
  // values, so they are planned once (custom plans made Postgres plan the claim and marker afresh each
  // time, about a tenth of its work during a send). Only here: for everything else a generic plan can be
  // far worse (a status no row has yet is planned as a third of the table, so the recovery update would
  // scan the whole outbox). The setting is only for speed: a server refusing it still serves.
  const sendPool = newPool(3, true);
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  sendPool.on('error', () => {});

  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const deadline = Date.now() + (options.connectTimeoutMs ?? 0);
  for (;;) {
    try {
      await pool.query('select 1');
      break;
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (TRANSIENT.has(code) && Date.now() < deadline) {
        options.onRetry?.(`database not reachable yet (${code}); retrying`);
        await sleep(1000);
        continue;
      }
      await Promise.all([pool.end(), sendPool.end()]).catch(() => {});
      throw new ConfigError([
        { variable: 'DATABASE_URL', message: `cannot connect to ${redactUrl(url)}: ${(err as Error).message || code}` },
      ]);
    }
  }

  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const sendDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: sendPool }) });
  return {
    db,
    sendDb,
    dialect: 'postgres',
    // The time limit covers waiting for a free connection too: a pool held by stuck requests is unhealthy.
    ping: () => answersWithin(pool.query({ text: 'select 1', query_timeout: PING_TIMEOUT_MS } as QueryConfig).then(() => true), PING_TIMEOUT_MS),
    poolStats: () =>
      [
        { pool: 'main', p: pool, max: 10 },
        { pool: 'send', p: sendPool, max: 3 },
      ].map(({ pool: name, p, max }) => ({ pool: name, total: p.totalCount, idle: p.idleCount, waiting: p.waitingCount, max })),
    close: async () => {
      await sendDb.destroy();
      await db.destroy();
    },
  };
}
