import type { Transaction } from 'kysely';
import type { Config } from '../../config.js';
import type { Database, Db, DbOrTx } from '../../db/database.js';
import { fromBool } from '../../db/codec.js';
import type { Clock } from '../../lib/clock.js';
import { parseMailbox } from '../../lib/email.js';
import { ValidationError } from '../../lib/errors.js';
import * as repo from './repository.js';
import type { NewsletterInput } from './schemas.js';

export type NewsletterService = ReturnType<typeof createNewsletterService>;

export function createNewsletterService(deps: { db: Db; clock: Clock; config: Config }) {
  const { db, clock } = deps;

  function toColumns(input: NewsletterInput) {
    return {
      name: input.name,
      slug: input.slug,
      description: input.description,
      from_name: input.from_name,
      from_email: input.from_email,
      reply_to: input.reply_to,
      postal_address: input.postal_address,
      time_zone: input.time_zone,
      double_opt_in: fromBool(input.double_opt_in),
      archive_public: fromBool(input.archive_public),
      tracking_mode: input.tracking_mode,
    };
  }

  /**
   * A slug is free when no other newsletter uses it now, and none used it before a rename: its old
   * links and embedded forms still lead there, and taking the slug would take them over.
   */
  async function assertSlugFree(trx: DbOrTx, slug: string, exceptId?: number) {
    if (await repo.slugTaken(trx, slug, exceptId)) {
      throw new ValidationError({ slug: 'Another newsletter already uses this address. Choose a different one.' });
    }
    const previous = await repo.findNewsletterByOldSlug(trx, slug);
    if (previous && previous.id !== exceptId) {
      throw new ValidationError({
        slug: `${previous.name} used this address before it was renamed, and its old links and forms still lead there. Choose a different one.`,
      });
    }
  }

  return {
    list: () => repo.listNewsletters(db),

    get: (id: number) => repo.findNewsletterById(db, id),

    /** The old slugs that still lead to a newsletter (its edit page lists them). */
    oldSlugs: (id: number) => repo.listOldSlugs(db, id),

    /** The owner's explicit choice: `slug` stops leading to the newsletter and is free for any. */
    forgetOldSlug: (id: number, slug: string) => repo.deleteOldSlug(db, slug, id),

    async create(input: NewsletterInput): Promise<number> {
      return db.transaction().execute(async (trx) => {
        await assertSlugFree(trx, input.slug);
        const now = clock.now();
        const id = await repo.insertNewsletter(trx, { ...toColumns(input), default_lock: null, created_at: now, updated_at: now });
        if (input.is_default || (await repo.listNewsletters(trx)).length === 1) await repo.makeDefault(trx, id);
        return id;
      });
    },

    /**
     * A new slug keeps the old one as an alias, in the same transaction, so that no moment exists in
     * which the old links lead nowhere. Taking back one of its own old slugs makes it current again.
     */
    async update(id: number, input: NewsletterInput): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await assertSlugFree(trx, input.slug, id);
        const before = await repo.findNewsletterById(trx, id);
        if (before && before.slug !== input.slug) {
          await repo.deleteOldSlug(trx, input.slug, id);
          await repo.addOldSlug(trx, before.slug, id, clock.now());
        }
        await repo.updateNewsletter(trx, id, { ...toColumns(input), updated_at: clock.now() });
        if (input.is_default) await repo.makeDefault(trx, id);
      });
    },
  };
}

/** Setup's hook: the owner's first newsletter, sent from MAIL_FROM until they change it. */
export async function createFirstNewsletter(trx: Transaction<Database>, config: Config, owner: { name: string }, at: number): Promise<number> {
  const from = parseMailbox(config.mailFrom);
  const id = await repo.insertNewsletter(trx, {
    slug: 'newsletter',
    name: `${owner.name}'s newsletter`,
    description: '',
    from_name: owner.name.replace(/[\r\n<>"]/g, ''),
    from_email: from?.address ?? 'gazette@localhost.localdomain',
    reply_to: null,
    default_lock: 1,
    created_at: at,
    updated_at: at,
  });
  return id;
}
