import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConflictError } from '../../lib/errors.js';
import { parseForm } from '../../lib/forms.js';
import { idField, pathId } from '../../lib/params.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { POST_STATUSES } from '../../sending/states.js';
import { postFormSchema } from '../posts/schemas.js';
import type { PostService } from '../posts/service.js';
import type { SendingService } from '../sending/service.js';
import type { StatsService } from '../stats/service.js';
import { cursorField, limitField, page } from './cursor.js';
import { postJson } from './present.js';
import * as repo from './repository.js';

const postParams = z.object({ id: pathId('There is no post with that id.') });

const listQuery = z.object({
  cursor: cursorField,
  limit: limitField,
  newsletter_id: idField('Use a newsletter id.').optional(),
  status: z.enum(POST_STATUSES as [string, ...string[]], { error: `Use one of: ${POST_STATUSES.join(', ')}.` }).optional(),
});

const text = (max: number) => z.string().max(max, `Use at most ${max.toLocaleString('en')} characters.`);
const tagIds = z.array(idField('Use tag ids (GET /api/v1/tags).')).max(200, 'Give at most 200 tags.');

/** The draft's fields; each is checked again by the editor's own schema, so both doors accept the same. */
const draftFields = {
  subject: text(200).optional(),
  slug: text(80).optional(),
  preheader: text(300).optional(),
  body: text(200_000).optional(),
  audience: z.object({ include_tags: tagIds.default([]), exclude_tags: tagIds.default([]) }).strict().optional(),
};

const createBody = z.object({ newsletter_id: idField('Give the id of a newsletter (GET /api/v1/newsletters).'), ...draftFields }).strict();
const updateBody = z.object(draftFields).strict();
const scheduleBody = z.object({
  scheduled_at: z.iso.datetime({ offset: true, error: 'Use an ISO 8601 time with a zone, like 2026-12-24T09:00:00Z.' }).transform((v) => Date.parse(v)),
});

type DraftInput = z.infer<typeof updateBody>;

/** Posts: drafts written and changed, then scheduled, sent or cancelled, as the editor and post page do. */
export function postApiRoutes(deps: { posts: PostService; sending: SendingService; stats: StatsService; mailFrom: string }) {
  const { posts, sending, stats } = deps;
  return async (app: TypedApp) => {
    const db = app.ctx.db;
    const one = async (id: number) => postJson((await posts.load(id)).post);
    // The pre-send checks fill merge tags with a sample reader; through the API that reader is the key.
    const caller = (request: FastifyRequest) => ({ name: request.apiKey!.name, email: deps.mailFrom });

    async function saveDraft(id: number, input: DraftInput) {
      const { post } = await posts.load(id);
      const { audience, ...fields } = input;
      const hasFields = Object.values(fields).some((v) => v !== undefined);
      if (hasFields) {
        const merged = { subject: post.subject, slug: post.slug, preheader: post.preheader, body: post.body, ...definedOnly(fields) };
        await posts.save(id, parseForm(postFormSchema, merged));
      }
      if (audience) await posts.setAudience(id, audience);
    }

    app.get('/posts', { config: { scope: 'posts:read' }, schema: { summary: 'List posts, oldest first', tags: ['posts'], querystring: listQuery } }, async (request) => {
      const q = request.query;
      const rows = await repo.postsAfter(db, { after: q.cursor, limit: q.limit + 1, newsletterId: q.newsletter_id, status: q.status });
      return page(rows, q.limit, postJson);
    });

    app.get('/posts/:id', { config: { scope: 'posts:read' }, schema: { summary: 'Get a post', tags: ['posts'], params: postParams } }, async (request) => one(request.params.id));

    app.post('/posts', { config: { scope: 'posts:write' }, schema: { summary: 'Create a draft', tags: ['posts'], body: createBody } }, async (request, reply) => {
      const { newsletter_id, ...fields } = request.body;
      const id = await posts.create({ newsletter_id, subject: (fields.subject ?? '').replace(/[\r\n\t]+/g, ' ').trim() });
      try {
        await saveDraft(id, fields);
      } catch (err) {
        // A draft whose fields were refused is not left behind half made.
        await posts.remove(id);
        throw err;
      }
      return reply.code(201).header('location', `/api/v1/posts/${id}`).send(await one(id));
    });

    app.patch('/posts/:id', { config: { scope: 'posts:write' }, schema: { summary: 'Change a draft (or a scheduled post)', tags: ['posts'], params: postParams, body: updateBody } }, async (request) => {
      await saveDraft(request.params.id, request.body);
      return one(request.params.id);
    });

    app.delete('/posts/:id', { config: { scope: 'posts:write' }, schema: { summary: 'Delete a draft', tags: ['posts'], params: postParams } }, async (request, reply) => {
      await posts.remove(request.params.id);
      return reply.code(204).send();
    });

    app.post('/posts/:id/schedule', { config: { scope: 'posts:send' }, schema: { summary: 'Schedule a post (the pre-send checks must pass)', tags: ['posts'], params: postParams, body: scheduleBody } }, async (request) => {
      await posts.scheduleAt(request.params.id, request.body.scheduled_at, caller(request));
      return one(request.params.id);
    });

    app.post('/posts/:id/send', { config: { scope: 'posts:send' }, schema: { summary: 'Send a post now (the pre-send checks must pass)', tags: ['posts'], params: postParams } }, async (request, reply) => {
      await posts.sendNow(request.params.id, caller(request));
      return reply.code(202).send(await one(request.params.id));
    });

    app.post('/posts/:id/cancel', { config: { scope: 'posts:send' }, schema: { summary: 'Unschedule a scheduled post (back to draft), or stop a send', tags: ['posts'], params: postParams } }, async (request) => {
      const { post } = await posts.load(request.params.id);
      if (post.status === 'scheduled') await posts.unschedule(post.id);
      else if (post.status === 'sending' || post.status === 'paused') await sending.cancel(post.id);
      else throw new ConflictError(`A ${post.status} post has nothing to cancel.`);
      return one(post.id);
    });

    app.get('/posts/:id/stats', { config: { scope: 'posts:read' }, schema: { summary: 'A post’s delivery and engagement figures', tags: ['posts'], params: postParams } }, async (request) => {
      const s = await stats.post(request.params.id);
      const n = s.stats;
      return {
        post_id: Number(s.post.id),
        tracking_mode: s.mode,
        refreshed_at: n ? new Date(Number(n.refreshed_at)).toISOString() : null,
        recipients: Number(n?.recipients ?? 0),
        delivered: Number(n?.delivered ?? 0),
        failed: Number(n?.failed ?? 0),
        bounced: Number(n?.bounced ?? 0),
        complained: Number(n?.complained ?? 0),
        unsubscribed: Number(n?.unsubscribed ?? 0),
        opens: { human: Number(n?.human_opens ?? 0), machine: Number(n?.machine_opens ?? 0), unique_human: Number(n?.unique_openers ?? 0) },
        clicks: { human: Number(n?.human_clicks ?? 0), machine: Number(n?.machine_clicks ?? 0), unique_human: Number(n?.unique_clickers ?? 0) },
        links: s.links.map((l) => ({ url: l.url, human_clicks: l.humanClicks, machine_clicks: l.machineClicks, unique_human_clickers: l.humanClickers })),
      };
    });
  };
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
