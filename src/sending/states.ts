import type { DeliveryStatus, PostStatus } from '../db/tables/posts.js';

/**
 * The send state machine (CONVENTIONS.md habit 8): every status a post and a delivery (one recipient of
 * a post) can have, and every move between them, as data.
 *
 * Only post-transitions.ts and delivery-transitions.ts write a status (test/sending/state-machine.test.ts
 * holds the rest of src/ to that). Each write is a named function running a conditional UPDATE whose
 * WHERE names the statuses it may leave, so its row count is the lock: of two racing writers, one
 * changes the row and the other sees 0 rows and knows it lost. Those statuses are typed with
 * `PostFrom`/`DeliveryFrom` below, so a write leaving a status the table does not allow is a type error.
 *
 * Post
 *   draft ⇄ scheduled          the writer schedules and unschedules (re-scheduling stays scheduled)
 *   draft | scheduled → sending  "send now", or the scheduler when the time comes
 *   sending → paused → sending  by the writer, or by relay trouble and its probe
 *   sending → sent               once the audience is frozen and no delivery is open
 *   sent → sending               failed or unknown recipients re-queued by the writer
 *   scheduled | sending | paused → cancelled
 *
 * Delivery (created `queued` by the audience snapshot)
 *   queued | retry → claimed     reserved by one sender; released back to queued on pause or crash
 *   claimed → attempting         the write-ahead marker, durable before any SMTP byte
 *   claimed → skipped            unsubscribed, suppressed or deleted since the snapshot
 *   claimed → failed | queued    the message could not be built (for this recipient, or at all)
 *   attempting → sent | retry | failed | unknown | queued   the relay's answer (queued: relay trouble)
 *   attempting → unknown         the sender died mid-attempt: never re-sent without the writer
 *   unknown → sent               the answer arrived after an over-eager recovery
 *   unknown | failed → queued    re-queued by the writer, with the same Message-ID
 *   queued | claimed | retry → cancelled
 */
export const POST_TRANSITIONS = {
  draft: ['scheduled', 'sending'],
  scheduled: ['draft', 'scheduled', 'sending', 'cancelled'],
  sending: ['paused', 'sent', 'cancelled'],
  paused: ['paused', 'sending', 'cancelled'],
  sent: ['sending'],
  cancelled: [],
} as const satisfies Record<PostStatus, readonly PostStatus[]>;

export const DELIVERY_TRANSITIONS = {
  queued: ['claimed', 'cancelled'],
  claimed: ['attempting', 'skipped', 'failed', 'queued', 'cancelled'],
  attempting: ['sent', 'retry', 'failed', 'unknown', 'queued'],
  sent: [],
  retry: ['claimed', 'cancelled'],
  failed: ['queued'],
  unknown: ['sent', 'queued'],
  skipped: [],
  cancelled: [],
} as const satisfies Record<DeliveryStatus, readonly DeliveryStatus[]>;

export const POST_STATUSES = Object.keys(POST_TRANSITIONS) as PostStatus[];
export const DELIVERY_STATUSES = Object.keys(DELIVERY_TRANSITIONS) as DeliveryStatus[];

/** Delivery states that still have work ahead of them: a post is finished when none remain. */
export const OPEN_STATES: DeliveryStatus[] = ['queued', 'claimed', 'attempting', 'retry'];

/** The statuses from which a post may move to every status in `To`. */
export type PostFrom<To extends PostStatus> = { [F in PostStatus]: [To] extends [(typeof POST_TRANSITIONS)[F][number]] ? F : never }[PostStatus];

/** The statuses from which a delivery may move to every status in `To`. */
export type DeliveryFrom<To extends DeliveryStatus> = {
  [F in DeliveryStatus]: [To] extends [(typeof DELIVERY_TRANSITIONS)[F][number]] ? F : never;
}[DeliveryStatus];
