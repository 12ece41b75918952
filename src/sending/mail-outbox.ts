import type { Db, DbOrTx } from '../db/database.js';
import type { Clock } from '../lib/clock.js';
import { recordEvent, type EventType } from '../domain/events.js';
import { domainOf, newMessageId, type Mailer, type OutgoingMail } from './mailer.js';
import * as repo from './mail-outbox-repository.js';

/**
 * Single messages (confirmations, notices, password resets) go through here: `enqueueMail` writes the
 * message in the caller's transaction, and after commit the caller `kick`s the sender, which hands it to
 * the mailer outside any transaction. A relay that fails is retried with backoff; a permanent refusal is
 * kept as failed; a message whose process died mid-send becomes unknown and is never resent blindly.
 */

/** Waits after the 1st, 2nd, … failed attempt; after the last one the message is failed. */
export const RETRY_DELAYS_MS = [30_000, 60_000, 2 * 60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000, 2 * 60 * 60_000];
/** A claim older than this belongs to a process that died: every mailer timeout is far shorter. */
export const STALE_CLAIM_MS = 5 * 60_000;
const BATCH = 20;

export type MailKind = 'confirmation' | 'already_subscribed' | 'password_reset' | (string & {});

export interface EnqueueInput {
  kind: MailKind;
  mail: OutgoingMail;
  now: number;
  subscriberId?: number | null;
  newsletterId?: number | null;
  /** Written to the event log when the relay accepts the message. */
  eventType?: EventType;
}

export async function enqueueMail(db: DbOrTx, input: EnqueueInput): Promise<number> {
  const messageId = input.mail.messageId ?? newMessageId(domainOf(input.mail.from));
  return repo.insertMail(db, {
    kind: input.kind,
    to_address: input.mail.to,
    subject: input.mail.subject,
    message_id: messageId,
    payload: JSON.stringify({ ...input.mail, messageId }),
    status: 'queued',
    next_attempt_at: input.now,
    subscriber_id: input.subscriberId ?? null,
    newsletter_id: input.newsletterId ?? null,
    event_type: input.eventType ?? null,
    created_at: input.now,
  });
}

export interface MailOutboxLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MailOutbox {
  /** Call after the transaction that queued mail has committed: sends it soon, without blocking the caller. */
  kick(): void;
  /** Sends every message due now (and marks stale claims unknown); resolves with how many were handed over. */
  runOnce(): Promise<number>;
  /** Resolves once no pass is running (tests await it after a request). */
  idle(): Promise<void>;
  /**
   * A pass now, for mail queued before a restart. Later passes follow each kick, and the "mail-outbox"
   * job's ticks pick up retries that fall due and stale claims (src/jobs/sending-jobs.ts).
   */
  start(): void;
  stop(): Promise<void>;
  /** The writer's "send again" for a failed or unknown message. */
  resend(id: number): Promise<boolean>;
}

export interface MailOutboxDeps {
  db: Db;
  mailer: Mailer;
  clock: Clock;
  log?: MailOutboxLog;
}

/** Whether an error from the mailer is the relay's final refusal (5xx) rather than something worth retrying. */
function isPermanent(err: unknown): boolean {
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

function describe(err: unknown): string {
  const e = err as { response?: string; message?: string; code?: string };
  return (e.response ?? e.message ?? String(err)).slice(0, 1000);
}

export function createMailOutbox(deps: MailOutboxDeps): MailOutbox {
  const { db, mailer, clock } = deps;
  let running: Promise<number> | undefined;
  let again = false;
  let stopped = false;

  async function sendOne(id: number): Promise<boolean> {
    const row = await repo.claimMail(db, id, clock.now());
    if (!row) return false;
    const mail = JSON.parse(row.payload) as OutgoingMail;
    try {
      const result = await mailer.send({ ...mail, messageId: row.message_id });
      await db.transaction().execute(async (trx) => {
        if (!(await repo.markMailSent(trx, row.id, result.response, clock.now()))) return;
        if (row.event_type) {
          await recordEvent(trx, {
            type: row.event_type as EventType,
            at: clock.now(),
            subscriberId: row.subscriber_id,
            newsletterId: row.newsletter_id,
            data: { mail: row.kind },
          });
        }
      });
    } catch (err) {
      const error = describe(err);
      const delay = RETRY_DELAYS_MS[row.attempts - 1];
      if (isPermanent(err) || delay === undefined) {
        await repo.markMailFailed(db, row.id, error);
        deps.log?.error({ err, mail: row.kind, id: row.id }, 'a message could not be sent and will not be retried');
      } else {
        await repo.markMailRetry(db, row.id, error, clock.now() + delay);
        deps.log?.warn({ err, mail: row.kind, id: row.id, retryInMs: delay }, 'a message could not be sent; it will be retried');
      }
    }
    return true;
  }

  async function pass(): Promise<number> {
    let handed = 0;
    await repo.markStaleMailUnknown(db, clock.now() - STALE_CLAIM_MS);
    for (;;) {
      const ids = await repo.listDue(db, clock.now(), BATCH);
      if (ids.length === 0) break;
      let won = 0;
      for (const id of ids) if (await sendOne(id)) won += 1;
      handed += won;
      // Every due row was taken by another process: stop rather than spin on them.
      if (won === 0) break;
    }
    return handed;
  }

  function runOnce(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    const current = (async () => {
      let total = 0;
      do {
        again = false;
        total += await pass();
      } while (again && !stopped);
      return total;
    })();
    running = current.finally(() => {
      running = undefined;
    });
    return running;
  }

  function kick(): void {
    if (stopped) return;
    runOnce().catch((err: unknown) => deps.log?.error({ err }, 'the mail outbox pass failed'));
  }

  async function idle(): Promise<void> {
    while (running) await running.catch(() => undefined);
  }

  return {
    kick,
    runOnce,
    idle,
    start() {
      kick();
    },
    async stop() {
      stopped = true;
      await idle();
    },
    async resend(id: number) {
      const done = await repo.requeueMail(db, id, clock.now());
      if (done) kick();
      return done;
    },
  };
}
