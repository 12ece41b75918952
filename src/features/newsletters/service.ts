import type { Transaction } from 'kysely';
import type { Config } from '../../config.js';
import type { Database, Db, DbOrTx } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
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
    };
  }

  async function assertSlugFree(trx: DbOrTx, slug: string, exceptId?: number) {
    if (await repo.slugTaken(trx, slug, exceptId)) {
      throw new ValidationError({ slug: 'Another newsletter already uses this address. Choose a different one.' });
    }
  }

  return {
    list: () => repo.listNewsletters(db),

    async create(input: NewsletterInput): Promise<number> {
      return db.transaction().execute(async (trx) => {
        await assertSlugFree(trx, input.slug);
        const now = clock.now();
        const id = await repo.insertNewsletter(trx, { ...toColumns(input), default_lock: null, created_at: now, updated_at: now });
        if (input.is_default || (await repo.listNewsletters(trx)).length === 1) await repo.makeDefault(trx, id);
        return id;
      });
    },

    async update(id: number, input: NewsletterInput): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await assertSlugFree(trx, input.slug, id);
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

/** The name and address a newsletter's mail is sent from, as one RFC 5322 mailbox string. */
export function senderOf(newsletter: Pick<NewsletterRow, 'from_name' | 'from_email'>): string {
  const name = newsletter.from_name.replace(/["\\\r\n]/g, '').trim();
  return name ? `"${name}" <${newsletter.from_email}>` : newsletter.from_email;
}
