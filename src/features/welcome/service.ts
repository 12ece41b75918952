import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { Clock } from '../../lib/clock.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { parseMerge } from '../../lib/merge.js';
import { findNewsletterById } from '../newsletters/repository.js';
import { checkPost } from '../posts/checks.js';
import { MAX_BODY_CHARS } from '../posts/schemas.js';
import { DEFAULT_WELCOME, renderWelcome, welcomeValues, type WelcomeText } from './mail.js';
import * as repo from './repository.js';

export const welcomeSchema = z.object({
  // A checkbox: present when ticked.
  enabled: z.string().optional().transform((v) => v !== undefined),
  subject: z
    .string()
    .default('')
    .transform((v) => v.replace(/[\r\n\t]+/g, ' ').trim())
    .pipe(z.string().min(1, 'Write a subject.').max(200, 'Use at most 200 characters.')),
  body: z
    .string()
    .default('')
    .transform((v) => v.replace(/\r\n?/g, '\n'))
    .pipe(z.string().refine((v) => v.trim() !== '', 'Write the welcome.').refine((v) => v.length <= MAX_BODY_CHARS, `The body is too long (at most ${MAX_BODY_CHARS.toLocaleString('en')} characters).`)),
});

export type WelcomeInput = z.infer<typeof welcomeSchema>;

export type WelcomeService = ReturnType<typeof createWelcomeService>;

/** The writer's side of the welcome mail: its text per newsletter, switched on or off, and its preview. */
export function createWelcomeService(deps: { db: Db; clock: Clock; config: Config }) {
  const { db, clock, config } = deps;

  async function newsletter(id: number): Promise<NewsletterRow> {
    const found = await findNewsletterById(db, id);
    if (!found) throw new NotFoundError('That newsletter does not exist.');
    return found;
  }

  return {
    async load(newsletterId: number) {
      const n = await newsletter(newsletterId);
      const row = await repo.findWelcomeMail(db, newsletterId);
      const text: WelcomeText = row ? { subject: row.subject, body: row.body } : DEFAULT_WELCOME;
      return { newsletter: n, enabled: row?.enabled === 1, text, sent: await repo.countWelcomesSent(db, newsletterId) };
    },

    async save(newsletterId: number, input: WelcomeInput): Promise<void> {
      await newsletter(newsletterId);
      const problems = [...parseMerge(input.subject).problems, ...parseMerge(input.body).problems];
      if (problems.length > 0) throw new ValidationError({ body: problems.join(' ') });
      await repo.saveWelcomeMail(db, { newsletterId, enabled: input.enabled, subject: input.subject, body: input.body, at: clock.now() });
    },

    /** The welcome as the writer would receive it, and the pre-send checks a post gets. */
    async preview(n: NewsletterRow, text: WelcomeText, user: { name: string; email: string }) {
      const sample = await renderWelcome(n, text, welcomeValues(config.baseUrl, n, text, user), config.baseUrl);
      const checks = checkPost({ subject: text.subject, preheader: '', body: text.body }, sample.rendered);
      return { sample: { subject: sample.subject, html: sample.html, text: sample.text }, bytes: Buffer.byteLength(sample.rendered.html, 'utf8'), checks };
    },
  };
}
