import { parseJsonObject, toJson } from '../../db/codec.js';
import type { Db, DbOrTx } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { SubscriberRow } from '../../db/tables/subscribers.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { randomToken } from '../../lib/tokens.js';
import { listSubscriberEvents, recordEvent } from '../../domain/events.js';
import { findNewsletterById, listNewsletters } from '../newsletters/repository.js';
import { emailHash, suppressionReason } from '../../domain/suppressions.js';
import type { SubscriberFilter } from './filters.js';
import { checkAddedAddress, type CheckEmail } from './address-check.js';
import * as repo from './repository.js';
import type { WelcomeQueue } from '../welcome/queue.js';

/**
 * Sends the double opt-in mail for a pending subscription (the readers feature owns it); the signature
 * is that of `ReaderService.sendConfirmation`. Without one, admin-added pending subscriptions simply
 * wait with `confirm_sent_at` NULL.
 */
export type SendConfirmation = (
  conn: DbOrTx,
  newsletter: NewsletterRow,
  subscriber: Pick<SubscriberRow, 'id' | 'email'>,
  subscriptionId: number,
  lastSentAt: number | null,
) => Promise<boolean>;

export interface SubscriberServiceDeps {
  db: Db;
  clock: Clock;
  sendConfirmation?: SendConfirmation | undefined;
  /** The sign-up form's address checks; without them only the syntax is checked. */
  checkEmail?: CheckEmail | undefined;
  /** The newsletter's welcome mail, for a subscriber added as active. */
  welcome?: WelcomeQueue | undefined;
  /** Called after a commit that queued mail, so the mail outbox sends it at once. */
  mailQueued?: (() => void) | undefined;
}

export type SubscriberService = ReturnType<typeof createSubscriberService>;

export function createSubscriberService(deps: SubscriberServiceDeps) {
  const { db, clock } = deps;

  async function get(id: number): Promise<SubscriberRow> {
    const row = await repo.findSubscriber(db, id);
    if (!row) throw new NotFoundError('There is no subscriber with that number. They may have been deleted.');
    return row;
  }

  async function detail(id: number) {
    const subscriber = await get(id);
    const [subscriptions, tags, events, newsletters, suppressed] = await Promise.all([
      repo.listSubscriptionsOf(db, id),
      repo.tagsOf(db, id),
      listSubscriberEvents(db, id, 100),
      listNewsletters(db),
      suppressionReason(db, subscriber.email),
    ]);
    return { subscriber, attributes: parseJsonObject(subscriber.attributes), subscriptions, tags, events, newsletters, suppressed: suppressed ?? null };
  }

  async function refuseSuppressed(email: string): Promise<void> {
    const reason = await suppressionReason(db, email);
    if (reason) throw new ValidationError({ email: `This address is suppressed (${reason}); Gazette will not mail it again.` });
  }

  async function add(added: { email: string; name: string; newsletterId: number; status: 'active' | 'pending'; acceptTypo?: boolean }): Promise<number> {
    const newsletter = await findNewsletterById(db, added.newsletterId);
    if (!newsletter) throw new ValidationError({ newsletter_id: 'Choose a newsletter.' });
    const input = { ...added, email: await checkAddedAddress(deps.checkEmail, added.email, added.acceptTypo ?? false) };
    if (await repo.findSubscriberIdByEmail(db, input.email)) throw new ValidationError({ email: 'This address is already on your list.' });
    await refuseSuppressed(input.email);
    const now = clock.now();
    const created = await db.transaction().execute(async (trx) => {
      const id = await repo.insertSubscriber(trx, {
        email: input.email,
        email_hash: emailHash(input.email),
        name: input.name,
        token: randomToken(32),
        source: 'admin',
        ip: null,
        created_at: now,
        updated_at: now,
      });
      const subscriptionId = await repo.insertSubscription(trx, { subscriberId: id, newsletterId: newsletter.id, status: input.status, source: 'admin', at: now });
      await recordEvent(trx, { type: 'subscribed', at: now, subscriberId: id, newsletterId: newsletter.id, data: { source: 'admin', status: input.status } });
      const welcomed = input.status === 'active' ? ((await deps.welcome?.queue(trx, newsletter.id, [id], now)) ?? 0) : 0;
      return { id, subscriptionId, welcomed };
    });
    if (created.welcomed > 0) deps.mailQueued?.();
    // Mail leaves after the commit: a relay's slowness must not hold the database.
    if (input.status === 'pending' && deps.sendConfirmation) {
      await deps.sendConfirmation(db, newsletter, { id: created.id, email: input.email }, created.subscriptionId, null);
    }
    return created.id;
  }

  async function edit(id: number, input: { email: string; name: string }): Promise<void> {
    const current = await get(id);
    if (input.email !== current.email) {
      const other = await repo.findSubscriberIdByEmail(db, input.email);
      if (other !== undefined && other !== id) throw new ValidationError({ email: 'Another subscriber already has this address.' });
      await refuseSuppressed(input.email);
    }
    if (input.email === current.email && input.name === current.name) return;
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      await repo.updateSubscriber(trx, id, { email: input.email, email_hash: emailHash(input.email), name: input.name, updated_at: now });
      await recordEvent(trx, { type: 'edited', at: now, subscriberId: id, data: { fields: input.email !== current.email ? ['email', 'name'] : ['name'] } });
    });
  }

  async function setAttributes(id: number, attributes: Record<string, unknown>): Promise<void> {
    await get(id);
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      await repo.updateSubscriber(trx, id, { attributes: toJson(attributes), updated_at: now });
      await recordEvent(trx, { type: 'edited', at: now, subscriberId: id, data: { fields: ['attributes'] } });
    });
  }

  async function tag(id: number, name: string): Promise<void> {
    await get(id);
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      const t = await repo.findOrCreateTag(trx, name, now);
      if (await repo.addTag(trx, id, t.id)) await recordEvent(trx, { type: 'tagged', at: now, subscriberId: id, data: { tag: t.name } });
    });
  }

  async function untag(id: number, tagId: number): Promise<void> {
    await get(id);
    const t = await repo.findTag(db, tagId);
    if (!t) return;
    const now = clock.now();
    await db.transaction().execute(async (trx) => {
      if (await repo.removeTag(trx, id, tagId)) await recordEvent(trx, { type: 'untagged', at: now, subscriberId: id, data: { tag: t.name } });
    });
  }

  /** Tags or untags a selection or the whole filter; answers how many subscribers changed. */
  async function bulkTag(action: 'tag' | 'untag', name: string, target: { ids: number[] } | { filter: SubscriberFilter }): Promise<number> {
    if ('ids' in target && target.ids.length === 0) throw new ValidationError({ ids: 'Select at least one subscriber, or apply to the whole filter.' });
    return db.transaction().execute(async (trx) => {
      if (action === 'tag') {
        const t = await repo.findOrCreateTag(trx, name, clock.now());
        return repo.tagMany(trx, t.id, target);
      }
      const t = (await repo.listTags(trx)).find((x) => x.name.toLowerCase() === name.toLowerCase());
      return t ? repo.untagMany(trx, t.id, target) : 0;
    });
  }

  /** Unsubscribes from one newsletter or from all; an admin unsubscribe is as final as the reader's own. */
  async function unsubscribe(id: number, newsletterId: number | null): Promise<number> {
    await get(id);
    const now = clock.now();
    return db.transaction().execute(async (trx) => {
      const changed = await repo.unsubscribe(trx, id, newsletterId, now);
      for (const n of changed) await recordEvent(trx, { type: 'unsubscribed', at: now, subscriberId: id, newsletterId: n, data: { source: 'admin' } });
      return changed.length;
    });
  }

  async function erase(id: number): Promise<void> {
    const subscriber = await get(id);
    await db.transaction().execute((trx) => repo.eraseSubscriber(trx, subscriber));
  }

  /** Every newsletter, for the filters and the add form. */
  const newsletters = () => listNewsletters(db);

  return { get, detail, add, edit, setAttributes, tag, untag, bulkTag, unsubscribe, erase, newsletters };
}
