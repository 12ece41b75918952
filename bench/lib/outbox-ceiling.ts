import { connect, type Socket } from 'node:net';
import { connectDatabase } from '../../src/db/connect.js';
import type { Db } from '../../src/db/database.js';
import { refreshStatistics } from '../../src/db/statistics.js';
import { DEFAULT_ENGINE_OPTIONS } from '../../src/sending/options.js';
import { claimRows, markAttempting, recordSent, recordSentAndMark, type ClaimedRow } from '../../src/sending/delivery-transitions.js';
import { snapshotAudience } from '../../src/sending/repository.js';
import { createPost, type BenchDb } from './databases.js';
import type { SinkProcess } from './procs.js';

/**
 * The outbox ceiling: the most any sender could get through Gazette's outbox on this machine. It runs the
 * engine's own database work for one post (the same repository functions and connections: the snapshot in
 * pages, claims of 200 rows, and per tick one commit recording the sent rows and marking the next ones
 * `attempting`, at most `connections` in doubt) but nothing else: no rendering, no worker thread, and a
 * pipelined writer of pre-built bytes instead of an SMTP client (each envelope goes out while its marker
 * commits, its message once the marker is durable). Gazette's send against it shows what its own code
 * costs; a target above it is out of reach of this outbox on this machine, whatever the sender does.
 */
export interface OutboxCeilingResult {
  rate: number;
  seconds: number;
  /** CPU of this process (the database driver, the loop and the writer). */
  cpuSeconds: number;
  /** Postgres on this machine: its server's CPU over the run. */
  databaseCpuSeconds: number | null;
}

interface Lane {
  socket: Socket;
  pending: string;
  row: ClaimedRow | undefined;
  /** The row's marker is committed, and the relay asked for the data (354): the message may go. */
  marked: boolean;
  ready: boolean;
  dataSent: boolean;
}

const GREETING = /^220 /;
/** The send loop's claim size at 20 connections, and the buffer level that starts the next claim (pipeline.ts). */
const CLAIM_SIZE = 200;
const LOW_WATER = CLAIM_SIZE / 2;

export async function outboxCeiling(bench: BenchDb, sink: SinkProcess, data: Buffer, total: number, connections: number): Promise<OutboxCeilingResult> {
  const handle = await connectDatabase(bench.config);
  const { db, sendDb, dialect } = handle;
  const owner = 'outbox-ceiling';
  const postId = await createPost(bench.db, bench.newsletterId);
  const lanes: Lane[] = [];
  try {
    await sink.reset();
    const databaseCpuBefore = bench.serverCpuSeconds?.();
    const startedAt = Date.now();
    const cpu0 = process.cpuUsage();
    await bench.db.updateTable('posts').set({ status: 'sending', started_at: startedAt, updated_at: startedAt }).where('id', '=', postId).execute();
    let snapshotDone = false;
    const snapshot = async (maxPages?: number) => {
      const r = await snapshotAudience(db, {
        postId,
        newsletterId: bench.newsletterId,
        audience: { includeTags: [], excludeTags: [] },
        dialect,
        domain: 'bench.example',
        now: startedAt,
        pageSize: DEFAULT_ENGINE_OPTIONS.snapshotPageSize,
        // As the engine does: the first pages at once, the rest with a rest as long as each page took.
        ...(maxPages !== undefined ? { maxPages } : { between: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 100))) }),
      });
      if (dialect === 'postgres') await refreshStatistics(db, ['deliveries', 'subscriptions', 'subscribers', 'suppressions']);
      return r;
    };
    if ((await snapshot(DEFAULT_ENGINE_OPTIONS.snapshotWaitPages)).done) snapshotDone = true;
    const rest = snapshotDone ? Promise.resolve() : snapshot().then(() => void (snapshotDone = true));

    const ready: ClaimedRow[] = [];
    const finished: Array<{ id: number; response: string }> = [];
    let claiming: Promise<void> | undefined;
    let exhausted = false;
    let ticking = false;
    let failure: unknown;
    let finish!: () => void;
    const ended = new Promise<void>((resolve) => (finish = resolve));
    const fail = (err: unknown) => {
      failure ??= err;
      finish();
    };
    let scheduled = false;
    const wake = () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        tick().catch(fail);
      });
    };
    const go = (lane: Lane) => {
      if (lane.row && lane.marked && lane.ready && !lane.dataSent) {
        lane.dataSent = true;
        lane.socket.write(data);
      }
    };
    const claim = () => {
      if (claiming || exhausted) return;
      const now = Date.now();
      // Only a claim that began after the last snapshot page may find the outbox empty for good.
      const complete = snapshotDone;
      claiming = db
        .transaction()
        .execute((trx) => claimRows(trx, dialect, { postId, newsletterId: bench.newsletterId, owner, now, limit: CLAIM_SIZE }))
        .then((r) => {
          ready.push(...r.claimed);
          if (r.claimed.length === 0 && r.skipped === 0 && complete) exhausted = true;
          claiming = undefined;
          wake();
        });
      claiming.catch(fail);
    };
    async function tick(): Promise<void> {
      if (ticking || failure) return;
      if (ready.length <= LOW_WATER) claim();
      const take: Lane[] = [];
      for (const lane of lanes) {
        if (lane.row) continue;
        const row = ready.shift();
        if (!row) break;
        lane.row = row;
        take.push(lane);
        lane.socket.write(`MAIL FROM:<outbox@bench.example>\r\nRCPT TO:<${row.email}>\r\nDATA\r\n`);
      }
      if (take.length === 0 && finished.length === 0) {
        // Ends only here, with every answer recorded.
        if (exhausted && lanes.every((l) => !l.row)) finish();
        else if (!claiming && !exhausted) setTimeout(wake, 5); // the snapshot has not written more rows yet
        return;
      }
      ticking = true;
      const sent = finished.splice(0);
      const ids = take.map((l) => l.row!.id);
      const now = Date.now();
      const marked =
        dialect === 'postgres'
          ? await recordSentAndMark(sendDb, sent, ids, owner, now)
          : await db.transaction().execute(async (trx) => {
              await recordSent(trx, dialect, sent, now);
              return markAttempting(trx, dialect, ids, owner, now);
            });
      ticking = false;
      for (const lane of take) {
        if (!marked.has(lane.row!.id)) throw new Error(`outbox ceiling: row ${lane.row!.id} was not marked`);
        lane.marked = true;
        go(lane);
      }
      wake();
    }

    for (let i = 0; i < connections; i++) lanes.push(await openLane(sink.port, { finished, go, wake, fail }));
    claim();
    await ended;
    await rest;
    if (failure) throw failure;
    const cpu = process.cpuUsage(cpu0);
    const stats = await sink.stats();
    const sentRows = await bench.db.selectFrom('deliveries').select((eb) => eb.fn.countAll<number>().as('n')).where('post_id', '=', postId).where('status', '=', 'sent').executeTakeFirstOrThrow();
    if (stats.messages !== total || stats.distinct !== total || stats.duplicates !== 0 || Number(sentRows.n) !== total) {
      throw new Error(`outbox ceiling: the sink saw ${stats.messages} messages to ${stats.distinct} distinct recipients (${stats.duplicates} twice) and ${sentRows.n} rows are sent; expected ${total} once each`);
    }
    const databaseCpuAfter = bench.serverCpuSeconds?.();
    const seconds = (stats.lastAt! - startedAt) / 1000;
    return {
      rate: Math.round(total / seconds),
      seconds: Number(seconds.toFixed(2)),
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
      databaseCpuSeconds: databaseCpuBefore !== undefined && databaseCpuAfter !== undefined ? Number((databaseCpuAfter - databaseCpuBefore).toFixed(1)) : null,
    };
  } finally {
    for (const lane of lanes) lane.socket.destroy();
    await handle.close();
  }
}

interface LaneEvents {
  finished: Array<{ id: number; response: string }>;
  /** The relay asked for the data. */
  go(lane: Lane): void;
  /** A message was accepted. */
  wake(): void;
  /** The connection failed after it was open. */
  fail(err: unknown): void;
}

/** One SMTP connection past EHLO; answers of the message data (250 after 354) are reported as sent. */
function openLane(port: number, { finished, go, wake, fail }: LaneEvents): Promise<Lane> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    const lane: Lane = { socket, pending: '', row: undefined, marked: false, ready: false, dataSent: false };
    let greeted = false;
    let open = false;
    socket.on('error', (err) => (open ? fail(err) : reject(err)));
    socket.on('data', (chunk: string) => {
      lane.pending += chunk;
      for (let nl = lane.pending.indexOf('\r\n'); nl >= 0; nl = lane.pending.indexOf('\r\n')) {
        const line = lane.pending.slice(0, nl);
        lane.pending = lane.pending.slice(nl + 2);
        if (line[3] === '-') continue; // a multi-line answer goes on
        if (!greeted) {
          if (!GREETING.test(line)) return reject(new Error(`outbox ceiling: sink greeted with ${line}`));
          greeted = true;
          socket.write('EHLO bench.local\r\n');
        } else if (!open) {
          open = true;
          resolve(lane);
        } else if (line.startsWith('354')) {
          lane.ready = true;
          go(lane);
        } else if (line[0] !== '2') {
          socket.destroy(new Error(`outbox ceiling: sink answered ${line}`));
        } else if (lane.dataSent) {
          finished.push({ id: lane.row!.id, response: line });
          lane.row = undefined;
          lane.marked = lane.ready = lane.dataSent = false;
          wake();
        }
      }
    });
  });
}
