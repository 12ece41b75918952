import type { FastifyReply } from 'fastify';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { z } from 'zod';
import { ALTCHA_URL } from '../../plugins/static.js';
import { AddressError, type ChallengeError, type ChallengeWidget } from '../protection/service.js';
import { challengePagePolicy } from '../protection/widget.js';
import type { subscribeSchema } from './schemas.js';

/** What the subscribe form is re-rendered with besides the reader's values. */
export interface HomeExtra {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  message?: string;
  typo?: { typed: string; suggestion: string } | undefined;
  source?: string | undefined;
}

/** JSON for a refused or questioned address, or a missing challenge: the reason's code, and any suggestion. */
export function screeningJson(err: AddressError | ChallengeError) {
  const suggestion = err instanceof AddressError ? err.suggestion : undefined;
  return { error: { code: err.addressCode, message: err.message, fields: err.fields, ...(suggestion ? { suggestion } : {}) } };
}

/** The form again: a typo as "use / keep" buttons, a refused address beside its field, a missing challenge on top. */
export function screeningForm(err: AddressError | ChallengeError, typed: string, source: string | undefined): HomeExtra {
  const embed = source === 'embed' ? 'embed' : undefined;
  // The challenge has no field of its own: its message heads the form.
  if (!(err instanceof AddressError)) return { message: err.message, source: embed };
  const typo = err.suggestion ? { typed: typed.trim(), suggestion: err.suggestion } : undefined;
  return { errors: typo ? {} : err.fields, typo, source: embed };
}

/** A sign-up kept for the writer's review: said plainly, with nothing about whether the address is known. */
export function answerHeld(reply: FastifyReply, n: NewsletterRow, json: boolean, homeUrl: string) {
  const message = `Thank you. Sign-ups from this address are reviewed by the writer of ${n.name} before anything is sent; you will get a confirmation email once it is approved.`;
  if (json) return reply.code(202).send({ ok: true, status: 'held', message });
  return reply.page('readers/message', { title: 'Waiting for review', publicPage: true, newsletter: n, heading: 'Waiting for review', message, homeUrl }, { status: 202 });
}

/** The challenge for the page's form (with the page policy its widget needs), or nothing. */
export function withChallenge(reply: FastifyReply, challenge: ChallengeWidget | undefined) {
  if (!challenge) return { challenge: undefined };
  reply.header('content-security-policy', challengePagePolicy(challenge));
  return { challenge, altchaUrl: ALTCHA_URL };
}

/**
 * The address the reader chose (the suggestion, when they pressed "use" and the field still holds what
 * they typed; else the field), whether they kept a questioned address, and the solved challenge.
 */
export function formChoices(input: z.infer<typeof subscribeSchema>) {
  const useSuggestion = input.use_suggestion && input.suggestion !== undefined && input.typed === input.email;
  return {
    email: useSuggestion ? input.suggestion! : input.email,
    acceptTypo: input.accept_typo,
    challengeResponse: input.altcha ?? input['cf-turnstile-response'] ?? input['h-captcha-response'],
  };
}
