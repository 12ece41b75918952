import type { BounceWebhookConfig } from '../../../config.js';
import type { Clock } from '../../../lib/clock.js';
import { RateLimiter } from '../../../lib/rate-limiter.js';
import type { FeedbackReport } from '../report.js';
import { brevoAdapter } from './brevo.js';
import { mailgunAdapter } from './mailgun.js';
import { postmarkAdapter } from './postmark.js';
import { resendAdapter } from './resend.js';
import { sendgridAdapter } from './sendgrid.js';
import { sesAdapter } from './ses.js';
import { httpsGet, type SnsTrust } from './sns-certificates.js';
import { PROVIDERS, type Provider, type WebhookAdapter, type WebhookCall } from './types.js';

export interface WebhookReceipt {
  stored: number;
  duplicates: number;
  ignored: number;
  /** Amazon SNS subscription confirmations: whether visiting SubscribeURL worked. */
  confirmed?: boolean;
}

export type WebhookReceiver = ReturnType<typeof createWebhookReceiver>;

/** The feedback service's side: records reports in one transaction, saying for each whether it was new. */
export interface BatchSink {
  recordEach(reports: FeedbackReport[]): Promise<boolean[]>;
}

/**
 * Reports of calls that arrive while a commit is running wait and go together in the next one: under a
 * flood, one commit serves many calls (no timer, so a lone call is recorded at once).
 *
 * The first call of a batch lets the event loop finish the turn before the commit: on SQLite the whole
 * transaction runs synchronously, so the calls already read from their sockets would otherwise only get
 * their turn after it, and every call committed (and fsynced) alone.
 */
function groupCommit(sink: BatchSink) {
  let waiting: Array<{ reports: FeedbackReport[]; done: (r: boolean[]) => void; failed: (e: unknown) => void }> = [];
  let running = false;
  async function drain(): Promise<void> {
    running = true;
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      try {
        const results = await sink.recordEach(batch.flatMap((b) => b.reports));
        let at = 0;
        for (const b of batch) b.done(results.slice(at, (at += b.reports.length)));
      } catch (err) {
        for (const b of batch) b.failed(err);
      }
    }
    running = false;
  }
  return (reports: FeedbackReport[]) =>
    new Promise<boolean[]>((done, failed) => {
      waiting.push({ reports, done, failed });
      if (!running) void drain();
    });
}

export function isProvider(name: string): name is Provider {
  return (PROVIDERS as readonly string[]).includes(name);
}

/**
 * The relay webhooks' side of the feedback pipeline: one adapter per provider whose secret is configured
 * (the others stay off), a per-provider rate limit, and the sink every report goes to.
 */
export function createWebhookReceiver(deps: { config: BounceWebhookConfig; clock: Clock; sink: BatchSink; snsTrust: SnsTrust }) {
  const { config, clock } = deps;
  const record = groupCommit(deps.sink);
  const adapters = new Map<Provider, WebhookAdapter>();
  if (config.sesTopicArns.length > 0) adapters.set('ses', sesAdapter(config.sesTopicArns, deps.snsTrust));
  if (config.postmarkSecret) adapters.set('postmark', postmarkAdapter(config.postmarkSecret));
  if (config.mailgunSigningKey) adapters.set('mailgun', mailgunAdapter(config.mailgunSigningKey));
  if (config.sendgridPublicKey) adapters.set('sendgrid', sendgridAdapter(config.sendgridPublicKey));
  if (config.brevoSecret) adapters.set('brevo', brevoAdapter(config.brevoSecret));
  if (config.resendSecret) adapters.set('resend', resendAdapter(config.resendSecret));
  const limiter = new RateLimiter(clock, config.ratePerSecond, 1000, 16);

  return {
    enabled: (provider: string): provider is Provider => isProvider(provider) && adapters.has(provider),
    enabledProviders: (): Provider[] => PROVIDERS.filter((p) => adapters.has(p)),

    /** Takes a slot of the provider's rate; returns 0, or the milliseconds to wait (the call is refused). */
    admit: (provider: Provider): number => limiter.acquire(provider),

    /** Authenticates and records one call; throws WebhookRefusal (401) or BadRequestError (400). */
    async receive(provider: Provider, call: Omit<WebhookCall, 'now'>): Promise<WebhookReceipt> {
      const result = await adapters.get(provider)!.handle({ ...call, now: clock.now() });
      if (result.subscribeUrl) {
        const confirmed = await httpsGet(new URL(result.subscribeUrl), deps.snsTrust.ca).then(
          (r) => r.status === 200,
          () => false,
        );
        return { stored: 0, duplicates: 0, ignored: 0, confirmed };
      }
      const fresh = result.reports.length > 0 ? await record(result.reports) : [];
      const stored = fresh.filter(Boolean).length;
      return { stored, duplicates: fresh.length - stored, ignored: result.ignored };
    },
  };
}
