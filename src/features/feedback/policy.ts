import { z } from 'zod';

/**
 * What Gazette does with each kind of report. Hard bounces and complaints suppress the address at once,
 * for every newsletter; a complaint also unsubscribes. Soft bounces suppress only after `softLimit` of
 * them within `softWindowDays`, counting back to the last message the address received without a bounce:
 * a successful delivery starts the count again (a mailbox that was full once and then took mail is fine).
 */
export interface BouncePolicy {
  softLimit: number;
  softWindowDays: number;
}

export const DEFAULT_POLICY: BouncePolicy = { softLimit: 3, softWindowDays: 15 };
export const POLICY_LIMITS = { softLimit: { min: 1, max: 20 }, softWindowDays: { min: 1, max: 90 } } as const;

const DAY_MS = 86_400_000;

export const policySchema = z.object({
  softLimit: z.coerce
    .number({ error: 'Enter a whole number.' })
    .int('Enter a whole number.')
    .min(POLICY_LIMITS.softLimit.min, `At least ${POLICY_LIMITS.softLimit.min}.`)
    .max(POLICY_LIMITS.softLimit.max, `At most ${POLICY_LIMITS.softLimit.max}.`),
  softWindowDays: z.coerce
    .number({ error: 'Enter a whole number of days.' })
    .int('Enter a whole number of days.')
    .min(POLICY_LIMITS.softWindowDays.min, `At least ${POLICY_LIMITS.softWindowDays.min} day.`)
    .max(POLICY_LIMITS.softWindowDays.max, `At most ${POLICY_LIMITS.softWindowDays.max} days.`),
});

/** A stored policy, or the defaults when nothing (or something unreadable) is stored. */
export function parseStoredPolicy(text: string | undefined): BouncePolicy {
  if (!text) return DEFAULT_POLICY;
  try {
    const parsed = policySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : DEFAULT_POLICY;
  } catch {
    return DEFAULT_POLICY;
  }
}

export function softWindowStart(policy: BouncePolicy, now: number): number {
  return now - policy.softWindowDays * DAY_MS;
}

export interface SoftBounce {
  id: number;
  deliveryId: number | null;
  /** When the bounced message was sent; null when the report matched no delivery. */
  sentAt: number | null;
  occurredAt: number;
}

/**
 * How many distinct messages soft-bounced since the last clean delivery (`cleanAt`, or null for none).
 * A bounce is placed in time by when its message was sent, or when it happened if we cannot tell; two
 * reports about the same message (a delay notice, then a failure) count once.
 */
export function softStreak(bounces: SoftBounce[], cleanAt: number | null): number {
  const messages = new Set<string>();
  for (const b of bounces) {
    const at = b.sentAt ?? b.occurredAt;
    if (cleanAt !== null && at <= cleanAt) continue;
    messages.add(b.deliveryId !== null ? `d${b.deliveryId}` : `r${b.id}`);
  }
  return messages.size;
}

/** Rates above these on a post are shown as a warning on the dashboard (Gmail, SES and ESP guidance). */
export const WARN_COMPLAINT_RATE = 0.001;
export const WARN_HARD_BOUNCE_RATE = 0.02;
