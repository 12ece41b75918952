/**
 * The Gazette sending process of the send benchmark: the real engine, built (dist/, as `npm start`
 * runs it, no TypeScript loader in the process), configured from the environment exactly as the
 * server configures it, sends one post and reports its own timings, peak RSS and CPU.
 * Run by bench/run.ts with DATABASE_URL, SMTP_URL, SMTP_POOL_SIZE, BASE_URL (and DKIM_*) set, and the
 * post id as argv[2]. Prints one JSON line.
 */
import { loadConfig } from '../dist/src/config.js';
import { connectDatabase } from '../dist/src/db/connect.js';
import { renderPostEmail } from '../dist/src/features/posts/email.js';
import { systemClock } from '../dist/src/lib/clock.js';
import { createSendingEngine } from '../dist/src/sending/engine.js';

const postId = Number(process.argv[2]);
const config = loadConfig(process.env);
const database = await connectDatabase(config.database);
const engine = createSendingEngine({ db: database.db, sendDb: database.sendDb, readAside: database.readAside, dialect: database.dialect, config, clock: systemClock, renderer: renderPostEmail });

const rssBeforeMb = process.memoryUsage.rss() / 2 ** 20;
const startedAt = Date.now();
const cpu0 = process.cpuUsage();
await engine.startPost(postId);
const snapshotDoneAt = Date.now();
engine.start();
let progress = await engine.progress(postId);
// Polled as an open post page polls (views/sending/_progress.eta: every 2 s, 5 s from 100,000 recipients,
// 10 s from 500,000): counting the rows costs ~11 ms on SQLite and ~50 ms of Postgres at 100,000. The rate is
// measured at the sink, so finding the end a poll late changes no figure but the CPU seconds, by idle time.
while (progress.preparing || progress.queued + progress.inFlight + progress.retrying > 0 || progress.postStatus === 'sending') {
  await new Promise((r) => setTimeout(r, progress.pollSeconds * 1000));
  progress = await engine.progress(postId);
  if (progress.postStatus === 'paused' || progress.postStatus === 'cancelled') break;
}
const finishedAt = Date.now();
await engine.stop();
const cpu = process.cpuUsage(cpu0);
await database.close();
process.stdout.write(
  JSON.stringify({
    startedAt,
    snapshotMs: snapshotDoneAt - startedAt,
    finishedAt,
    rssBeforeMb,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    status: progress.postStatus,
    counts: progress.counts,
  }) + '\n',
);
process.exit(0);
