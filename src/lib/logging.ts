import { currentRequest } from './request-context.js';
import { redactUrl } from './redact.js';

/**
 * The logger's settings (Fastify hands them to pino): JSON lines by default, one object per line, each
 * carrying the id of the request it belongs to; `LOG_FORMAT=pretty` turns the same lines into short text
 * for a person at a terminal.
 */

export type LogFormat = 'json' | 'pretty';

/** Loggers that carry the request id as a binding already (Fastify's `request.log`). */
const requestLoggers = new WeakSet<object>();

/** Marks `request.log`, so lines written through it do not get the request id twice. */
export function markRequestLogger(logger: object): void {
  requestLoggers.add(logger);
}

export interface LogLine {
  write(line: string): void;
}

export interface LoggerSettings {
  level: string;
  /** Adds the current request's id to lines written by loggers that do not carry it. */
  mixin(merge: object, level: number, logger: object): object;
  serializers: Record<string, (value: any) => unknown>;
  redact: { paths: string[]; censor: string };
  stream?: LogLine;
}

/** Credentials that may sit in a logged object (headers of a request or of an outgoing call). */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'password',
  'token',
];

export function loggerSettings(options: { level: string; format: LogFormat; out?: LogLine }): LoggerSettings {
  const out = options.out ?? process.stdout;
  return {
    level: options.level,
    mixin(_merge, _level, logger) {
      const request = currentRequest();
      return request && !requestLoggers.has(logger) ? { reqId: request.requestId } : {};
    },
    serializers: {
      // Fastify's request serializer with the URL's tokens and query string (addresses, in forms sent by GET) left out.
      req: (req: { method?: string; url?: string; ip?: string }) => ({ method: req.method, url: redactUrl(req.url ?? ''), remoteAddress: req.ip }),
    },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(options.format === 'pretty' ? { stream: prettyStream(out) } : options.out ? { stream: out } : {}),
  };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Keys every line has, shown in the line's head rather than as key=value. */
const HEAD_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'err']);

function pretty(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** One JSON log line as text: `12:00:01.123 INFO  [reqId] message key=value …`, then an error's stack. */
export function formatPretty(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const id = typeof entry.reqId === 'string' ? ` [${entry.reqId}]` : '';
  const rest = Object.entries(entry)
    .filter(([k]) => !HEAD_KEYS.has(k))
    .map(([k, v]) => `${k}=${pretty(v)}`);
  let text = `${time} ${level}${id} ${typeof entry.msg === 'string' ? entry.msg : ''}${rest.length ? ` ${rest.join(' ')}` : ''}`;
  const err = entry.err as { type?: string; message?: string; stack?: string } | undefined;
  if (err) text += `\n  ${(err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`).replace(/\n/g, '\n  ')}`;
  return `${text}\n`;
}

/** A pino destination that turns each JSON line into text before writing it (no worker thread, no transport). */
export function prettyStream(out: LogLine): LogLine {
  return {
    write(chunk: string) {
      // pino writes one line per call; a chunk holding several is split so each becomes its own line.
      for (const line of chunk.split('\n')) if (line) out.write(formatPretty(line));
    },
  };
}
