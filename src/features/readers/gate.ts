import { normalizeEmail } from '../../lib/email.js';
import { RateLimitedError, ValidationError } from '../../lib/errors.js';
import type { RateLimiter } from '../../lib/rate-limiter.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { SignupGuard } from '../protection/service.js';
import { canonicalAddress } from './names.js';
import type { SubscribeInput } from './service.js';

export interface GateDeps {
  guard: SignupGuard;
  perIp: RateLimiter;
  perAddress: RateLimiter;
  /** Why this press of the hosted form is not taken as a person's (see the readers service). */
  formTokenProblem(token: string | undefined, fromHostedPage: boolean): string | undefined;
  tooQuick: string;
}

/**
 * The defences in front of a sign-up, cheapest first: per-IP rate, the form's timing, the honeypot, then
 * the challenge and the address checks (protection), then the per-address rate. Every refusal is recorded
 * with its reason. Resolves to the stored address (and whether it is held for review), or `ignored` for
 * a bot that gets the ordinary answer while nothing happens.
 */
export async function passGate(deps: GateDeps, newsletter: NewsletterRow, input: SubscribeInput): Promise<{ email: string; held: boolean } | 'ignored'> {
  const { guard } = deps;
  const attempt = { newsletterId: newsletter.id, email: normalizeEmail(input.email), source: input.source };
  const ipWait = deps.perIp.hit(input.ip);
  if (ipWait > 0) {
    await guard.refused(attempt, 'rate');
    throw new RateLimitedError(ipWait, 'Too many sign-ups from your network. Please wait a minute and try again.');
  }
  // A refused press is told so, with the form back: a person must never read "we sent you a mail" for nothing.
  const formProblem = deps.formTokenProblem(input.formToken, input.fromHostedPage);
  if (formProblem) {
    if (formProblem === deps.tooQuick) await guard.refused(attempt, 'too_fast');
    throw new ValidationError({ t: formProblem }, formProblem);
  }
  // Bots get the same answer as everyone else, and nothing happens (not even a DNS lookup).
  if (input.honeypot.trim() !== '') {
    await guard.refused(attempt, 'honeypot');
    return 'ignored';
  }
  const screened = await guard.screen({ ...attempt, email: input.email, name: input.name, ip: input.ip, acceptTypo: input.acceptTypo, challengeResponse: input.challengeResponse });
  const addressWait = deps.perAddress.hit(canonicalAddress(screened.email));
  if (addressWait > 0) {
    await guard.refused({ ...attempt, email: screened.email }, 'rate');
    throw new RateLimitedError(addressWait, 'This address has asked to subscribe several times already. Please check your inbox, or try again later.');
  }
  return screened;
}
