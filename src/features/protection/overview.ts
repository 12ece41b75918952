import type { SignupOutcome, SignupReason } from '../../db/tables/signup-protection.js';

/** Each reason in words a writer reads at a glance. */
export const REASON_LABELS: Record<SignupReason, string> = {
  honeypot: 'Bot filled the hidden field',
  too_fast: 'Form sent too fast',
  rate: 'Too many attempts (rate limit)',
  challenge_failed: 'Challenge not solved',
  blocked_domain: 'Blocked domain',
  disposable: 'Throwaway (disposable) address',
  no_domain: 'Domain does not exist',
  null_mx: 'Domain accepts no mail (null MX)',
  invalid: 'Not a valid address',
  dns_unverified: 'Domain not verified (DNS did not answer)',
};

type Count = { reason: SignupReason; outcome: SignupOutcome; n: number };

/** Counts for the last 24 hours and 7 days side by side, one row per reason seen, largest first. */
export function describeOverview(o: { day: Count[]; week: Count[]; underAttack: boolean; attackUntil: number | undefined; challengeOn: boolean; settings: { challenge: string } }) {
  const sum = (rows: Count[], reason: SignupReason) => rows.filter((r) => r.reason === reason).reduce((n, r) => n + r.n, 0);
  const reasons = [...new Set(o.week.map((r) => r.reason))];
  const rows = reasons
    .map((reason) => ({ reason, label: REASON_LABELS[reason] ?? reason, day: sum(o.day, reason), week: sum(o.week, reason) }))
    .sort((a, b) => b.week - a.week || a.label.localeCompare(b.label));
  const mode =
    o.settings.challenge === 'always'
      ? 'Challenge on every sign-up (set on this page)'
      : o.settings.challenge === 'off'
        ? 'Challenge off (set on this page)'
        : o.underAttack
          ? `Attack mode: every sign-up must solve the challenge until ${new Date(o.attackUntil ?? 0).toISOString().slice(11, 16)} UTC`
          : 'Normal: the challenge turns on by itself when sign-ups spike';
  return { rows, mode, underAttack: o.underAttack, challengeOn: o.challengeOn };
}
