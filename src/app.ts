import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import authRoutes from './features/auth/routes.js';
import { createAuthService } from './features/auth/service.js';
import dashboardRoutes from './features/dashboard/routes.js';
import designRoutes from './features/design/routes.js';
import { createDesignService } from './features/design/service.js';
import { feedbackJobs } from './features/feedback/jobs.js';
import { bounceMailboxJobs } from './features/feedback/mailbox/jobs.js';
import { createFeedbackService } from './features/feedback/service.js';
import feedbackRoutes from './features/feedback/routes.js';
import webhookRoutes from './features/feedback/webhook-routes.js';
import { createWebhookReceiver } from './features/feedback/webhooks/receiver.js';
import { AMAZON_SNS, type SnsTrust } from './features/feedback/webhooks/sns-certificates.js';
import healthRoutes from './features/health/routes.js';
import jobRoutes from './features/jobs/routes.js';
import backupRoutes from './features/backups/routes.js';
import newsletterRoutes from './features/newsletters/routes.js';
import { createObservability } from './features/observability/observability.js';
import observabilityRoutes from './features/observability/routes.js';
import { createObservabilityService } from './features/observability/service.js';
import { createFirstNewsletter, createNewsletterService } from './features/newsletters/service.js';
import protectionRoutes from './features/protection/routes.js';
import { protectionJobs } from './features/protection/jobs.js';
import { createProtectionService } from './features/protection/service.js';
import readerRoutes from './features/readers/routes.js';
import { createReaderService } from './features/readers/service.js';
import outboxRoutes from './features/outbox/routes.js';
import { createOutboxService } from './features/outbox/service.js';
import { createLinkChecker } from './features/links/checker.js';
import { linkCheckFetch, type OutgoingOptions } from './features/links/client.js';
import { linkJobs } from './features/links/jobs.js';
import linkRoutes from './features/links/routes.js';
import { createLinkFindings, createLinkService } from './features/links/service.js';
import mediaRoutes from './features/media/routes.js';
import { createMediaService } from './features/media/service.js';
import { mediaStorageFor } from './features/media/storage-config.js';
import archiveRoutes from './features/posts/archive-routes.js';
import { createPublishingService } from './features/posts/publishing.js';
import postRoutes from './features/posts/routes.js';
import { createPostService, postBodies } from './features/posts/service.js';
import sendingRoutes from './features/sending/routes.js';
import { createSendingService } from './features/sending/service.js';
import settingsRoutes from './features/settings/routes.js';
import { createSettingsService } from './features/settings/service.js';
import importRoutes from './features/imports/routes.js';
import { createImportService } from './features/imports/service.js';
import subscriberRoutes from './features/subscribers/routes.js';
import statsRoutes from './features/stats/routes.js';
import { createStatsService } from './features/stats/service.js';
import { createHitRecorder } from './features/tracking/recorder.js';
import trackingRoutes from './features/tracking/routes.js';
import { createTrackingService } from './features/tracking/service.js';
import { trackingKey } from './domain/tracking.js';
import { createSubscriberService } from './features/subscribers/service.js';
import contextPlugin, { type AppContext } from './plugins/context.js';
import csrfPlugin from './plugins/csrf.js';
import errorsPlugin from './plugins/errors.js';
import inputGuardPlugin from './plugins/input-guard.js';
import observabilityPlugin from './plugins/observability.js';
import schemasPlugin from './plugins/schemas.js';
import securityHeadersPlugin from './plugins/security-headers.js';
import sessionPlugin from './plugins/session.js';
import staticPlugin, { HTMX_URL } from './plugins/static.js';
import viewsPlugin from './plugins/views.js';
import outgoingWebhookRoutes from './features/webhooks/routes.js';
import apiAdminRoutes from './features/api/admin-routes.js';
import { apiV1 } from './features/api/scope.js';
import { gazetteVersion } from './features/observability/observability.js';
import { createApiService } from './features/api/service.js';
import { webhookFetch } from './features/webhooks/client.js';
import { webhookJobs } from './features/webhooks/jobs.js';
import { createWebhookService } from './features/webhooks/service.js';
import { createWelcomeQueue } from './features/welcome/queue.js';
import welcomeRoutes from './features/welcome/routes.js';
import { createWelcomeService } from './features/welcome/service.js';
import billingRoutes from './features/billing/routes.js';
import { billingJobs } from './features/billing/jobs.js';
import { createBillingService } from './features/billing/service.js';
import stripeWebhookRoutes from './features/billing/webhook-routes.js';
import { randomId } from './lib/tokens.js';

export interface BuildAppOptions extends AppContext {
  logger?: FastifyServerOptions['logger'];
  /** Template caching; tests and production keep it on, a developer editing views may turn it off. */
  viewCache?: boolean;
  /** Awaited between two batches of an import (default: one event-loop turn); tests hold an import here. */
  importBetweenBatches?: () => Promise<unknown>;
  /** Outgoing requests (link checks): tests answer host names from loopback instead of DNS. */
  outgoing?: OutgoingOptions;
  /** Where SNS certificates may come from (default: Amazon's hosts); tests trust a server on loopback. */
  snsTrust?: SnsTrust;
}

export interface NavItem {
  href: string;
  label: string;
}

/**
 * Builds the whole application without listening: server.ts listens, tests call `inject`.
 * Every plugin and feature is registered here, explicitly, so this file is the route table's index.
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { logger, viewCache, importBetweenBatches, outgoing, ...ctx } = options;
  const app = Fastify({
    logger: logger ?? false,
    // Fastify accepts a hop count at run time though its types only list boolean/string/string[].
    trustProxy: ctx.config.trustProxy as boolean | string[],
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    requestIdHeader: false,
    // Random, so the reference on an error page names one request across restarts and processes.
    genReqId: randomId,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
  });

  const nav: NavItem[] = [
    { href: '/admin', label: 'Dashboard' },
    { href: '/admin/newsletters', label: 'Newsletters' },
    { href: '/admin/posts', label: 'Posts' },
    { href: '/admin/subscribers', label: 'Subscribers' },
    { href: '/admin/suppressions', label: 'Suppressions' },
    { href: '/admin/protection', label: 'Protection' },
    { href: '/admin/settings', label: 'Settings' },
  ];
  if (ctx.mailer.kind === 'dev-outbox') nav.push({ href: '/admin/outbox', label: 'Outbox' });

  const observability = ctx.observability ?? createObservability({ db: ctx.db, dialect: ctx.dialect, clock: ctx.clock });
  if (!ctx.observability) app.addHook('onClose', async () => observability.close());

  // Cross-cutting plugins, in dependency order.
  await app.register(contextPlugin, { ctx });
  await app.register(observabilityPlugin, { observability });
  await app.register(fastifyFormbody, { bodyLimit: 1024 * 1024 });
  await app.register(sessionPlugin);
  await app.register(viewsPlugin, {
    cache: viewCache ?? true,
    locals: (request) => ({
      user: request.user,
      csrfToken: request.csrfToken,
      htmxUrl: HTMX_URL,
      nav,
      mailCaptured: ctx.mailer.kind === 'dev-outbox',
      paidPlans: ctx.config.stripe !== undefined,
    }),
  });
  await app.register(csrfPlugin);
  await app.register(securityHeadersPlugin);
  await app.register(errorsPlugin);
  await app.register(inputGuardPlugin);
  await app.register(schemasPlugin);
  await app.register(staticPlugin);

  // Features: each service is built here, once, and handed to the routes that use it.
  const auth = createAuthService({
    db: ctx.db,
    clock: ctx.clock,
    config: ctx.config,
    mailOutbox: ctx.mailOutbox,
    onOwnerCreated: (trx, owner) => createFirstNewsletter(trx, ctx.config, owner, ctx.clock.now()).then(() => undefined),
  });
  const newsletters = createNewsletterService({ db: ctx.db, clock: ctx.clock, config: ctx.config });
  const protection = createProtectionService({ db: ctx.db, clock: ctx.clock, config: ctx.config, secretKey: ctx.secretKey });
  // Every path that makes a subscription active queues the welcome mail through this one queue.
  const welcome = createWelcomeQueue(ctx.config);
  const readers = createReaderService({ ...ctx, guard: protection.guard, log: app.log, welcome });
  const subscribers = createSubscriberService({ db: ctx.db, clock: ctx.clock, sendConfirmation: readers.sendConfirmation, checkEmail: protection.validator.check, welcome, mailQueued: () => ctx.mailOutbox.kick() });
  const imports = createImportService({ db: ctx.db, dialect: ctx.dialect, clock: ctx.clock, log: app.log, sendConfirmation: readers.sendConfirmation, welcome, mailQueued: () => ctx.mailOutbox.kick(), checkEmails: protection.validator.checkMany, betweenBatches: importBetweenBatches });
  // Imports run in the background: closing the app stops them after their current batch.
  app.addHook('onClose', () => imports.close());
  const media = createMediaService({ db: ctx.db, clock: ctx.clock, storage: mediaStorageFor(ctx.config), baseUrl: ctx.config.baseUrl });
  const posts = createPostService({ ...ctx, engine: ctx.sending, extraChecks: createLinkFindings({ db: ctx.db, baseUrl: ctx.config.baseUrl }), imageWeight: media.weigh });
  const links = createLinkService({
    db: ctx.db,
    clock: ctx.clock,
    baseUrl: ctx.config.baseUrl,
    posts,
    checker: createLinkChecker({ fetch: linkCheckFetch({ baseUrl: ctx.config.baseUrl, allowPrivate: ctx.config.linkCheckAllowPrivate, timeoutMs: ctx.config.linkCheckTimeoutMs, ...outgoing }) }),
    onBackgroundError: (err) => app.log.warn({ err }, 'a link check could not be recorded'),
  });
  for (const job of linkJobs({ links })) ctx.jobs.register(job);
  const publishing = createPublishingService(ctx);
  const sending = createSendingService({ db: ctx.db, engine: ctx.sending });
  // Tracking hits are group-committed; closing the app records the ones still buffered.
  const hitRecorder = createHitRecorder(ctx.db, ctx.clock, { flushEveryMs: 1000, maxPending: 20_000, log: app.log });
  app.decorate('hitRecorder', hitRecorder);
  app.addHook('onClose', () => hitRecorder.close());
  const tracking = createTrackingService({ db: ctx.db, key: trackingKey(ctx.secretKey), baseUrl: ctx.config.baseUrl, recorder: hitRecorder });
  const stats = createStatsService({ db: ctx.db, clock: ctx.clock });
  const settings = createSettingsService(ctx);
  const outbox = createOutboxService(ctx);
  // The one feedback sink: relay webhooks and the bounce mailbox job both record into it.
  const feedback = createFeedbackService({ db: ctx.db, clock: ctx.clock, secretKey: ctx.secretKey, log: app.log });
  for (const job of feedbackJobs({ feedback })) ctx.jobs.register(job);
  const bounceWebhooks = createWebhookReceiver({ config: ctx.config.bounceWebhooks, clock: ctx.clock, sink: feedback, snsTrust: options.snsTrust ?? AMAZON_SNS });
  for (const job of bounceMailboxJobs({ settings: ctx.config.bounceMailbox, verp: ctx.config.bounceVerp, sink: feedback, db: ctx.db, clock: ctx.clock, log: app.log })) ctx.jobs.register(job);
  const webhookUserAgent = `Gazette-Webhooks/1 (+${ctx.config.baseUrl})`;
  const webhooks = createWebhookService({
    db: ctx.db,
    clock: ctx.clock,
    fetch: webhookFetch({ allowPrivate: ctx.config.webhooksAllowPrivate, userAgent: webhookUserAgent, ...outgoing }),
    userAgent: webhookUserAgent,
    mailFrom: ctx.config.mailFrom,
    mailOutbox: ctx.mailOutbox,
  });
  for (const job of webhookJobs({ webhooks })) ctx.jobs.register(job);
  // Paid plans exist only with both Stripe secrets set; otherwise every paid page is a 404 and none is linked.
  const billing = createBillingService({ db: ctx.db, clock: ctx.clock, config: ctx.config, mailOutbox: ctx.mailOutbox, log: app.log });
  for (const job of billingJobs({ billing })) ctx.jobs.register(job);
  const api = createApiService({ db: ctx.db, clock: ctx.clock, requestsPerMinute: ctx.config.apiRateLimit });
  ctx.jobs.register({ name: 'api-idempotency', schedule: '17 * * * *', description: 'Forgets the answers kept for API requests sent with an Idempotency-Key once they are a day old.', run: () => api.prune() });
  const operations = createObservabilityService({ db: ctx.db, pingDb: ctx.pingDb, metricsToken: ctx.config.metricsToken, observability });
  await app.register(healthRoutes);
  await app.register(observabilityRoutes, { operations });
  await app.register(authRoutes, { auth });
  await app.register(dashboardRoutes, { stats, feedback, paid: billing.dashboard });
  await app.register(settingsRoutes, { auth, settings });
  await app.register(jobRoutes);
  await app.register(backupRoutes);
  await app.register(outboxRoutes, { outbox });
  await app.register(newsletterRoutes, { newsletters });
  await app.register(welcomeRoutes, { welcome: createWelcomeService(ctx) });
  await app.register(designRoutes, { design: createDesignService({ db: ctx.db, clock: ctx.clock, config: ctx.config }) });
  await app.register(readerRoutes, { readers, auth, paid: { offer: billing.offer, panel: billing.readerPanel } });
  await app.register(protectionRoutes, { protection, admit: readers.admitReviewed });
  for (const job of protectionJobs({ protection })) ctx.jobs.register(job);
  await app.register(subscriberRoutes, { subscribers });
  await app.register(importRoutes, { imports });
  await app.register(postRoutes, { posts });
  await app.register(mediaRoutes, { media, posts: postBodies(ctx.db, ctx.clock) });
  await app.register(linkRoutes, { links });
  await app.register(sendingRoutes, { sending });
  await app.register(archiveRoutes, { publishing });
  await app.register(webhookRoutes, { receiver: bounceWebhooks });
  await app.register(feedbackRoutes, { feedback, receiver: bounceWebhooks });
  await app.register(trackingRoutes, { tracking });
  await app.register(statsRoutes, { stats });
  await app.register(outgoingWebhookRoutes, { webhooks });
  await app.register(stripeWebhookRoutes, { billing });
  await app.register(billingRoutes, { billing });
  await app.register(apiAdminRoutes, { api });
  await app.register(apiV1({ api, subscribers, posts, sending, stats, imports, feedback, baseUrl: ctx.config.baseUrl, mailFrom: ctx.config.mailFrom, version: gazetteVersion() }), { prefix: '/api/v1' });

  return app;
}
