/**
 * The benchmark's SMTP sink, run as its own process so it does not share a core's event loop with the
 * sender it measures. Listens on 127.0.0.1:PORT (argv[2], 0 = any); prints `listening PORT` once ready.
 * Over IPC: 'stats' → SinkStats, 'reset' → clears counters. `--quota Q [--code 421|451|454]` makes it a
 * throttling relay (see SinkThrottle).
 */
import { createSink, type SinkThrottle } from './lib/sink-server.js';

const args = process.argv.slice(3);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : undefined;
};
const perSecond = option('quota');
const throttle: SinkThrottle | undefined = perSecond ? { perSecond, code: (option('code') ?? 421) as SinkThrottle['code'] } : undefined;
const sink = createSink(throttle);
sink.server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = sink.server.address() as { port: number };
  process.stdout.write(`listening ${port}\n`);
});
process.on('message', (msg: unknown) => {
  if (msg === 'stats') process.send?.({ stats: sink.stats() });
  else if (msg === 'reset') {
    sink.reset();
    process.send?.({ reset: true });
  }
});
process.on('disconnect', () => process.exit(0));
