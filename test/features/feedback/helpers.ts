import type { FeedbackReport } from '../../../src/features/feedback/report.js';
import { createFeedbackService, type FeedbackService } from '../../../src/features/feedback/service.js';
import { TEST_SECRET, type TestApp } from '../../helpers/app.js';
import { makePost } from '../../sending/fixtures.js';

/** The feedback service over the test app's database and clock, built as buildApp builds it. */
export function feedbackOf(t: TestApp): FeedbackService {
  return createFeedbackService({ db: t.db.db, clock: t.clock, secretKey: TEST_SECRET });
}

/** Sends a new post of `newsletterId` through the app's engine and returns its deliveries by address. */
export async function sendPost(t: TestApp, newsletterId: number): Promise<{ postId: number; byEmail: Map<string, { id: number; message_id: string; status: string; relay_id: string | null }> }> {
  const postId = await makePost(t.db.db, newsletterId, t.clock.now());
  await t.sending.startPost(postId);
  await t.sending.runOnce();
  const rows = await t.db.db.selectFrom('deliveries').select(['id', 'email', 'message_id', 'status', 'relay_id']).where('post_id', '=', postId).execute();
  return { postId, byEmail: new Map(rows.map((r) => [r.email, r])) };
}

let seq = 0;
/** A report with sensible defaults; `messageId` given with its angle brackets is accepted as stored. */
export function report(over: Partial<FeedbackReport> & Pick<FeedbackReport, 'kind'>): FeedbackReport {
  seq++;
  return {
    source: 'mailbox',
    reportId: `report-${seq}`,
    messageRef: {},
    address: '',
    occurredAt: Date.UTC(2026, 10, 22, 12, 0, 0),
    raw: `{"n":${seq}}`,
    ...over,
  };
}

export async function suppressionOf(t: TestApp, hash: string) {
  return t.db.db.selectFrom('suppressions').selectAll().where('email_hash', '=', hash).executeTakeFirst();
}
