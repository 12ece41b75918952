import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import type { Clock } from '../../../lib/clock.js';
import type { FeedbackReport, FeedbackSink } from '../report.js';
import { readBounceMail, type MailVerdict } from './bounce-mail.js';
import type { BounceMailboxSettings } from './settings.js';
import type { VerpBase } from './verp.js';

/**
 * The bounce mailbox: an IMAP folder the relay's bounces and the feedback loops' complaints arrive in,
 * for relays that report by mail instead of by webhook. One poll reads up to `batchSize` unseen messages,
 * hands the reports of all of them to the feedback sink at once, and only after the sink has stored them
 * moves each message: understood mail (bounces, complaints, unsubscribe requests, auto-replies, delay
 * notices) is marked read and goes to the processed folder, the rest to the unparsed folder, unread, for a
 * human. Nothing is ever deleted (the lesson of listmonk#1334), and
 * nothing is moved before its reports are stored: if the sink fails, the mail stays where it was, unseen,
 * and the next poll reads it again (the sink counts a report it already has once).
 */

export interface BounceMailboxLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface BounceMailboxDeps {
  settings: BounceMailboxSettings;
  sink: FeedbackSink;
  clock: Clock;
  log: BounceMailboxLog;
  verp?: VerpBase | undefined;
  /**
   * The address of the subscriber with this personal token: unsubscribe requests sent through the
   * List-Unsubscribe mailto name the reader by it. Without it those requests are left for a human.
   */
  subscriberEmail?: (token: string) => Promise<string | undefined>;
  /** Messages read per poll (default 100): a flood is worked through over several runs. */
  batchSize?: number;
  /** Larger messages are not downloaded: they go to the unparsed folder (default 10 MB). */
  maxMessageBytes?: number;
  /** Connection and greeting timeouts, ms (default 30 s): an unreachable server fails the run. */
  connectTimeoutMs?: number;
}

export interface PollResult {
  /** Messages read in this poll. */
  read: number;
  reports: number;
  stored: number;
  duplicates: number;
  /** Moved to the processed folder: reports, or understood and ignored. */
  processed: number;
  ignored: number;
  /** Moved to the unparsed folder. */
  unparsed: number;
}

export interface BounceMailbox {
  pollOnce(): Promise<PollResult>;
}

interface Verdict {
  uid: number;
  verdict: MailVerdict;
  /** For the log line of a mail moved aside: how the operator finds it in the unparsed folder. */
  messageId?: string | undefined;
  subject?: string | undefined;
}

const DEFAULT_BATCH = 100;
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

export function imapOptions(s: BounceMailboxSettings, connectTimeoutMs: number, maxBytes: number): ImapFlowOptions {
  return {
    host: s.host,
    port: s.port,
    secure: s.secure,
    // Credentials never cross the network in cleartext unless the operator said so (or it is loopback).
    ...(s.secure ? {} : { doSTARTTLS: s.allowPlaintext || isLoopback(s.host) ? undefined : true }),
    auth: { user: s.user, pass: s.password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: connectTimeoutMs,
    greetingTimeout: connectTimeoutMs,
    socketTimeout: 5 * 60_000,
    // A message over the limit is never downloaded; this only bounds what a broken server can push.
    maxLiteralSize: maxBytes * 2,
  };
}

export function createBounceMailbox(deps: BounceMailboxDeps): BounceMailbox {
  const { settings, sink, clock, log } = deps;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH;
  const maxBytes = deps.maxMessageBytes ?? DEFAULT_MAX_BYTES;
  const connectTimeoutMs = deps.connectTimeoutMs ?? 30_000;

  /** The server's path of a folder, created when missing (ALREADYEXISTS is no error). */
  async function folder(client: ImapFlow, name: string): Promise<string> {
    const created = await client.mailboxCreate(name.split('/').filter(Boolean));
    return created.path;
  }

  function read(uid: number, source: Buffer | undefined): Verdict {
    if (!source) return { uid, verdict: { outcome: 'unparsed', reason: 'the server sent no content' } };
    try {
      return { uid, verdict: readBounceMail(source, { now: clock.now(), verp: deps.verp }) };
    } catch (err) {
      // The parsers are meant never to throw; if one does, the mail still goes to a human, not into a loop.
      return { uid, verdict: { outcome: 'unparsed', reason: `could not be read: ${(err as Error).message}` } };
    }
  }

  async function readBatch(client: ImapFlow, uids: number[]): Promise<Verdict[]> {
    const listed = await client.fetchAll(uids, { uid: true, size: true, envelope: true }, { uid: true });
    const verdicts: Verdict[] = [];
    for (const { uid, size, envelope } of listed.sort((a, b) => a.uid - b.uid)) {
      const about = { messageId: envelope?.messageId, subject: envelope?.subject?.slice(0, 200) };
      if ((size ?? 0) > maxBytes) {
        verdicts.push({ uid, verdict: { outcome: 'unparsed', reason: `larger than ${maxBytes} bytes` }, ...about });
        continue;
      }
      // fetch asks for BODY.PEEK[]: reading does not mark the mail seen, so a failed poll leaves it unseen.
      const message = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
      verdicts.push({ ...read(uid, message ? message.source : undefined), ...about });
    }
    return verdicts;
  }

  /** Unsubscribe requests become reports about the token's subscriber; an unknown token is for a human. */
  async function resolveRequests(verdicts: Verdict[]): Promise<Verdict[]> {
    const out: Verdict[] = [];
    for (const v of verdicts) {
      if (v.verdict.outcome !== 'unsubscribe') {
        out.push(v);
        continue;
      }
      const address = await deps.subscriberEmail?.(v.verdict.token);
      out.push({
        uid: v.uid,
        messageId: v.messageId,
        subject: v.subject,
        verdict: address
          ? { outcome: 'reports', format: 'mailto', reports: [{ ...v.verdict.report, address }] }
          : { outcome: 'unparsed', reason: 'an unsubscribe request whose token names no subscriber' },
      });
    }
    return out;
  }

  async function move(client: ImapFlow, uids: number[], destination: string): Promise<void> {
    if (uids.length > 0) await client.messageMove(uids, destination, { uid: true });
  }

  async function poll(client: ImapFlow): Promise<PollResult> {
    const processedPath = await folder(client, settings.processedFolder);
    const unparsedPath = await folder(client, settings.unparsedFolder);
    // Levels are written with / in the settings, whatever the server's own delimiter is.
    const lock = await client.getMailboxLock(settings.mailbox.split('/').filter(Boolean));
    try {
      const found = (await client.search({ seen: false, deleted: false }, { uid: true })) || [];
      const uids = [...found].sort((a, b) => a - b).slice(0, batchSize);
      if (uids.length === 0) return { read: 0, reports: 0, stored: 0, duplicates: 0, processed: 0, ignored: 0, unparsed: 0 };
      const verdicts = await resolveRequests(await readBatch(client, uids));
      const reports: FeedbackReport[] = verdicts.flatMap((v) => (v.verdict.outcome === 'reports' ? v.verdict.reports : []));
      // The sink commits before any mail moves: a crash in between re-reads mail whose reports it already has.
      const recorded = reports.length > 0 ? await sink.record(reports) : { stored: 0, duplicates: 0 };
      const unparsed = verdicts.filter((v) => v.verdict.outcome === 'unparsed');
      const done = verdicts.filter((v) => v.verdict.outcome !== 'unparsed').map((v) => v.uid);
      // Handled mail is marked read, so in a mail client only the unparsed folder shows unread mail.
      if (done.length > 0) await client.messageFlagsAdd(done, ['\\Seen'], { uid: true });
      await move(client, done, processedPath);
      await move(client, unparsed.map((v) => v.uid), unparsedPath);
      for (const v of unparsed) {
        const reason = v.verdict.outcome === 'unparsed' ? v.verdict.reason : '';
        log.warn({ folder: unparsedPath, messageId: v.messageId, subject: v.subject, reason }, 'bounce mailbox: a mail that is no bounce or complaint was moved aside for a human');
      }
      const ignored = verdicts.filter((v) => v.verdict.outcome === 'ignored').length;
      return {
        read: verdicts.length,
        reports: reports.length,
        ...recorded,
        processed: verdicts.length - unparsed.length,
        ignored,
        unparsed: unparsed.length,
      };
    } finally {
      lock.release();
    }
  }

  /** An error the Jobs page can show: where, and what the server or the socket said (never the password). */
  function failure(stage: string, err: unknown): Error {
    const e = err as { message?: string; code?: string; responseText?: string; authenticationFailed?: boolean };
    const what = e.authenticationFailed ? 'the user name or password was refused' : (e.responseText ?? e.code ?? e.message ?? String(err));
    return new Error(`Bounce mailbox ${settings.user}@${settings.host}:${settings.port}: ${stage} failed: ${what}`, { cause: err });
  }

  return {
    async pollOnce() {
      const client = new ImapFlow(imapOptions(settings, connectTimeoutMs, maxBytes));
      // An 'error' event without a listener would crash the process; the failed command rejects anyway.
      client.on('error', (err: Error) => log.warn({ err: err.message }, 'bounce mailbox connection error'));
      try {
        await client.connect();
      } catch (err) {
        client.close();
        throw failure('connecting', err);
      }
      try {
        const result = await poll(client);
        if (result.read > 0) log.info({ ...result }, 'bounce mailbox polled');
        return result;
      } catch (err) {
        throw failure('reading', err);
      } finally {
        await client.logout().catch(() => client.close());
      }
    },
  };
}
