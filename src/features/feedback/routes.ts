import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { ValidationError } from '../../lib/errors.js';
import { echoFields, parseForm } from '../../lib/forms.js';
import type { TypedApp } from '../../plugins/schemas.js';
import { attachmentHeaders, CSV_BOM, csvLine } from '../subscribers/csv.js';
import { DEFAULT_POLICY, POLICY_LIMITS, policySchema } from './policy.js';
import type { SuppressionFilter, SuppressionListRow } from './repository.js';
import {
  blockSchema, decodeCursor, encodeCursor, KIND_LABELS, KINDS, policySavedQuery, postParams, REASONS, reportParams, reportQuery, suppressionParams, suppressionQuery, type SuppressionQuery,
} from './schemas.js';
import type { FeedbackService } from './service.js';
import type { WebhookReceiver } from './webhooks/receiver.js';
import { PROVIDERS } from './webhooks/types.js';

const qs = (params: Record<string, string | number | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

async function* suppressionCsv(rows: AsyncIterable<SuppressionListRow>): AsyncGenerator<string> {
  yield CSV_BOM + csvLine(['email', 'email_hash', 'reason', 'source', 'detail', 'suppressed_at']);
  for await (const r of rows) yield csvLine([r.email ?? '', r.email_hash, r.reason, r.source, r.detail, new Date(r.created_at).toISOString()]);
}

/** The writer's side of bounces and complaints: suppressions, reports, per-post counts and the policy. */
export default async function feedbackRoutes(app: TypedApp, opts: { feedback: FeedbackService; receiver: WebhookReceiver }) {
  const { feedback, receiver } = opts;

  async function suppressionsPage(reply: FastifyReply, query: SuppressionQuery, extra: Record<string, unknown> = {}, status = 200) {
    const { after, removed, blocked, ...filter } = query;
    const page = await feedback.suppressions(filter, decodeCursor(after));
    return reply.page(
      'feedback/suppressions',
      {
        title: 'Suppressions',
        filter,
        reasons: REASONS,
        ...page,
        nextUrl: page.next ? `/admin/suppressions${qs({ ...filter, after: encodeCursor(page.next) })}` : null,
        firstUrl: after ? `/admin/suppressions${qs(filter)}` : null,
        exportUrl: `/admin/suppressions/export.csv${qs(filter)}`,
        removed: removed === '1',
        blocked: blocked === '1',
        ...extra,
      },
      { status },
    );
  }

  app.get('/admin/suppressions', { schema: { querystring: suppressionQuery } }, async (request, reply) => suppressionsPage(reply, request.query));

  // The same block as the API's POST /suppressions: one service, two doors.
  app.post('/admin/suppressions', async (request, reply) => {
    try {
      const input = parseForm(blockSchema, request.body);
      await feedback.addSuppression(input.email, input.detail, 'admin', request.user!.email);
      return reply.redirect('/admin/suppressions?blocked=1', 303);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return suppressionsPage(reply, suppressionQuery.parse({}), { errors: err.fields, values: echoFields(request.body) }, 422);
    }
  });

  app.get('/admin/suppressions/export.csv', { schema: { querystring: suppressionQuery } }, async (request, reply) => {
    const { q, reason, source } = request.query;
    const filter: SuppressionFilter = { q, reason, source };
    const day = new Date(app.ctx.clock.now()).toISOString().slice(0, 10);
    reply.headers(attachmentHeaders(`suppressions-${day}.csv`));
    const stream = Readable.from(suppressionCsv(feedback.exportSuppressions(filter)));
    stream.on('error', (err) => request.log.error({ err }, 'suppression export failed midway'));
    return reply.send(stream);
  });

  app.get('/admin/suppressions/:hash/remove', { schema: { params: suppressionParams } }, async (request, reply) => {
    const row = await feedback.suppression(request.params.hash);
    return reply.page('feedback/remove-suppression', { title: 'Remove from suppression', row });
  });

  app.post('/admin/suppressions/:hash/remove', { schema: { params: suppressionParams } }, async (request, reply) => {
    await feedback.removeSuppression(request.params.hash, request.user!.email);
    return reply.redirect('/admin/suppressions?removed=1', 303);
  });

  app.get('/admin/feedback', { schema: { querystring: reportQuery } }, async (request, reply) => {
    const { matched, kind, source, post, before } = request.query;
    const filter = { matched: matched === undefined ? undefined : matched === 'yes', kind, source, postId: post, beforeId: before };
    const page = await feedback.reports(filter);
    const base = { matched, kind, source, post };
    return reply.page('feedback/reports', {
      title: 'Feedback',
      filter: base,
      kinds: KINDS,
      kindLabels: KIND_LABELS,
      providers: [...PROVIDERS, 'mailbox'],
      ...page,
      nextUrl: page.nextBefore ? `/admin/feedback${qs({ ...base, before: page.nextBefore })}` : null,
    });
  });

  app.get('/admin/feedback/:id', { schema: { params: reportParams } }, async (request, reply) => {
    const report = await feedback.report(request.params.id);
    return reply.page('feedback/report', { title: `Report ${report.id}`, report, kindLabels: KIND_LABELS });
  });

  app.get('/admin/posts/:id/feedback', { schema: { params: postParams } }, async (request, reply) => {
    const data = await feedback.postFeedback(request.params.id);
    return reply.page('feedback/post', { title: `Bounces and complaints: ${data.post.subject || 'untitled post'}`, ...data, kindLabels: KIND_LABELS });
  });

  const policyPage = async (reply: FastifyReply, extra: Record<string, unknown> = {}, status = 200) =>
    reply.page(
      'feedback/policy',
      {
        title: 'Bounce policy',
        policy: await feedback.policy(),
        defaults: DEFAULT_POLICY,
        limits: POLICY_LIMITS,
        baseUrl: app.ctx.config.baseUrl,
        providers: PROVIDERS.map((p) => ({ name: p, enabled: receiver.enabled(p) })),
        ...extra,
      },
      { status },
    );

  app.get('/admin/feedback/policy', { schema: { querystring: policySavedQuery } }, async (request, reply) => policyPage(reply, { saved: request.query.saved === '1' }));

  app.post('/admin/feedback/policy', async (request, reply) => {
    try {
      await feedback.savePolicy(parseForm(policySchema, request.body));
      return reply.redirect('/admin/feedback/policy?saved=1', 303);
    } catch (err) {
      if (err instanceof ValidationError) return policyPage(reply, { errors: err.fields, values: echoFields(request.body) }, 422);
      throw err;
    }
  });
}
