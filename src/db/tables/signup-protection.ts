import type { Generated, Selectable } from 'kysely';

export type SignupOutcome = 'refused' | 'held' | 'flagged' | 'approved';

/**
 * Why a sign-up was refused, held or flagged. Form-level defences (honeypot, too fast, rate, challenge)
 * and address checks (blocked domain, disposable, no domain, null MX) share one vocabulary.
 */
export type SignupReason =
  | 'honeypot'
  | 'too_fast'
  | 'rate'
  | 'challenge_failed'
  | 'blocked_domain'
  | 'disposable'
  | 'no_domain'
  | 'null_mx'
  | 'invalid'
  | 'dns_unverified';

export interface SignupAttemptsTable {
  id: Generated<number>;
  newsletter_id: number | null;
  email: string;
  name: Generated<string>;
  source: string;
  reason: SignupReason;
  outcome: SignupOutcome;
  created_at: number;
  decided_at: number | null;
}

export type SignupAttemptRow = Selectable<SignupAttemptsTable>;

/** A spent proof-of-work solution, kept until its challenge would have expired anyway. */
export interface UsedChallengesTable {
  signature_hash: string;
  expires_at: number;
}
