import { hkdfSync } from 'node:crypto';
import { createChallenge, verifySolution, type Challenge, type Payload } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { sha256Hex } from '../../lib/tokens.js';

/** A challenge is good for this long after it is issued. */
export const CHALLENGE_TTL_MS = 10 * 60_000;
/**
 * The work asked of a browser: a key starting with three zero hex digits takes 4,096 tries on average,
 * each of `COST` SHA-256 rounds: well under a second on a phone, a real cost for a bot posting thousands.
 */
const KEY_PREFIX = '000';
const COST = 20;

export type ChallengeVerdict = 'ok' | 'missing' | 'invalid' | 'expired';

export interface ProofOfWork {
  /** A fresh signed challenge, as the widget fetches it. */
  issue(now: number): Promise<Challenge>;
  /**
   * Checks a solution the form carried. `spend` is asked last, with a hash of the challenge's signature:
   * it must answer false for a solution already used once (replay).
   */
  verify(payload: string | undefined, now: number, spend: (hash: string, expiresAt: number) => Promise<boolean>): Promise<ChallengeVerdict>;
}

/**
 * ALTCHA proof of work, self-hosted. The HMAC key derives from SECRET_KEY, so challenges survive restarts
 * and any process of the installation can check them. Expiry rides in the signed `data` and is compared
 * with the app's clock (the library's own expiry reads the wall clock).
 */
export function createProofOfWork(secretKey: string): ProofOfWork {
  const hmacKey = Buffer.from(hkdfSync('sha256', secretKey, 'gazette', 'altcha', 32)).toString('hex');

  return {
    issue: (now) =>
      createChallenge({ algorithm: 'SHA-256', cost: COST, keyPrefix: KEY_PREFIX, deriveKey, hmacSignatureSecret: hmacKey, data: { exp: now + CHALLENGE_TTL_MS } }),

    async verify(payload, now, spend) {
      if (!payload) return 'missing';
      let decoded: Payload;
      try {
        decoded = JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as Payload;
      } catch {
        return 'invalid';
      }
      const challenge = decoded?.challenge;
      const solution = decoded?.solution;
      if (!challenge?.parameters || typeof challenge.signature !== 'string' || !solution || typeof solution.counter !== 'number') return 'invalid';
      // Only our own difficulty: a forged challenge with an easier prefix fails its signature anyway.
      if (challenge.parameters.algorithm !== 'SHA-256' || challenge.parameters.keyPrefix !== KEY_PREFIX) return 'invalid';
      let result;
      try {
        result = await verifySolution({ challenge, solution, deriveKey, hmacSignatureSecret: hmacKey });
      } catch {
        return 'invalid';
      }
      if (!result.verified) return 'invalid';
      const exp = challenge.parameters.data?.exp;
      if (typeof exp !== 'number' || exp < now) return 'expired';
      return (await spend(sha256Hex(challenge.signature), exp)) ? 'ok' : 'invalid';
    },
  };
}
