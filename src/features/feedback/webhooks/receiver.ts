import type { BounceWebhookConfig } from '../../../config.js';
import type { Clock } from '../../../lib/clock.js';
import { RateLimiter } from '../../../lib/rate-limiter.js';
import type { FeedbackSink } from '../report.js';
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

export function isProvider(name: string): name is Provider {
  return (PROVIDERS as readonly string[]).includes(name);
}

/**
 * The relay webhooks' side of the feedback pipeline: one adapter per provider whose secret is configured
 * (the others stay off), a per-provider rate limit, and the sink every report goes to.
 */
export function createWebhookReceiver(deps: { config: BounceWebhookConfig; clock: Clock; sink: FeedbackSink; snsTrust: SnsTrust }) {
  const { config, clock, sink } = deps;
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
      const { stored, duplicates } = result.reports.length > 0 ? await sink.record(result.reports) : { stored: 0, duplicates: 0 };
      return { stored, duplicates, ignored: result.ignored };
    },
  };
}
