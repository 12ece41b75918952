import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import type { SignupReason } from '../../db/tables/signup-protection.js';
import type { Clock } from '../../lib/clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { createMailDomainChecker, type MailDomainChecker } from '../validation/dns-check.js';
import { createEmailValidator, type EmailCheck } from '../validation/validator.js';
import { CAPTCHA_FIELD, CAPTCHA_SCRIPT, verifyCaptcha } from './captcha.js';
import { createProofOfWork } from './challenge.js';
import { createAttackMeter } from './attack-mode.js';
import * as repo from './repository.js';
import { defaultSettings, parseStoredSettings, SETTINGS_KEY, type ProtectionSettings } from './settings.js';

/** An address the checks refuse or question; JSON callers get `addressCode` (and the suggestion). */
export class AddressError extends ValidationError {
  constructor(
    readonly addressCode: string,
    message: string,
    readonly suggestion?: string,
  ) {
    super({ email: message }, message);
  }
}

/** The sign-up needs a solved challenge (attack mode, or always by setting). */
export class ChallengeError extends ValidationError {
  readonly addressCode = 'challenge_required';
  constructor(message: string) {
    super({ challenge: message }, message);
  }
}

export interface ScreenInput {
  newsletterId: number;
  email: string;
  name: string;
  source: string;
  ip: string;
  /** The reader chose "keep what I typed" after a typo suggestion. */
  acceptTypo: boolean;
  /** The solved challenge: a proof-of-work payload, or the captcha provider's token. */
  challengeResponse: string | undefined;
}

/** What the readers' subscribe flow asks of the defences. */
export interface SignupGuard {
  /** Records a sign-up refused by a check the readers run themselves (honeypot, timing, rate). */
  refused(input: Pick<ScreenInput, 'newsletterId' | 'email' | 'source'>, reason: SignupReason): Promise<void>;
  /**
   * Challenge (when required) and address checks. Throws AddressError / ChallengeError; otherwise the
   * stored address, and `held` when it is kept for the writer's review instead of subscribed.
   */
  screen(input: ScreenInput): Promise<{ email: string; held: boolean }>;
  /** The challenge the subscribe form must carry right now, or undefined when none is asked. */
  widget(): Promise<ChallengeWidget | undefined>;
}

export type ChallengeWidget = { kind: 'altcha'; challengeUrl: string } | { kind: 'turnstile' | 'hcaptcha'; siteKey: string; scriptUrl: string; field: string };

/** Where the proof-of-work widget fetches its challenges. */
export const CHALLENGE_PATH = '/signup-challenge';

const SETTINGS_FRESH_MS = 30_000;
const DAY = 24 * 60 * 60_000;
/** Refused and flagged attempts are kept this long for the page's 7-day counts, then pruned. */
export const ATTEMPT_RETENTION_MS = 30 * DAY;

export type ProtectionService = ReturnType<typeof createProtectionService>;

export function createProtectionService(deps: { db: Db; clock: Clock; config: Config; secretKey: string; domains?: MailDomainChecker }) {
  const { db, clock, config } = deps;
  const signup = config.signup;
  const defaults = defaultSettings(signup);
  let settings = defaults;
  let loadedAt = -Infinity;
  const domains = deps.domains ?? createMailDomainChecker({ clock, enabled: signup.dnsCheck, timeoutMs: signup.dnsTimeoutMs, servers: signup.dnsServers });
  const validator = createEmailValidator({
    policy: () => ({
      disposable: settings.disposable,
      allowedDomains: [...signup.allowedDomains, ...settings.allowedDomains],
      blockedDomains: settings.blockedDomains,
    }),
    blockedByConfig: config.subscribeBlockedDomains,
    domains,
  });
  const pow = createProofOfWork(deps.secretKey);
  const meter = createAttackMeter(clock, signup.attackThresholdPerMinute);

  /** Settings are re-read now and then: another process may have saved the page. */
  async function current(): Promise<ProtectionSettings> {
    if (clock.now() - loadedAt >= SETTINGS_FRESH_MS) {
      settings = parseStoredSettings(await repo.readSetting(db, SETTINGS_KEY), defaults);
      loadedAt = clock.now();
    }
    return settings;
  }

  async function challengeRequired(): Promise<boolean> {
    const s = await current();
    return s.challenge === 'always' || (s.challenge === 'auto' && meter.underAttack());
  }

  const record = (input: Pick<ScreenInput, 'newsletterId' | 'email' | 'source'> & { name?: string }, reason: SignupReason, outcome: 'refused' | 'held' | 'flagged') =>
    repo.insertAttempt(db, { newsletterId: input.newsletterId, email: input.email.slice(0, 320), name: (input.name ?? '').slice(0, 200), source: input.source, reason, outcome, at: clock.now() });

  async function checkChallenge(input: ScreenInput): Promise<void> {
    let passed: boolean;
    if (signup.captcha) {
      const verdict = await verifyCaptcha(signup.captcha, input.challengeResponse, input.ip);
      // A provider that is down lets people in, except while under attack.
      passed = verdict === 'ok' || (verdict === 'unavailable' && !meter.underAttack());
    } else {
      passed = (await pow.verify(input.challengeResponse, clock.now(), (hash, exp) => repo.spendChallenge(db, hash, exp))) === 'ok';
    }
    if (passed) return;
    await record(input, 'challenge_failed', 'refused');
    throw new ChallengeError(
      meter.underAttack()
        ? 'This form is receiving unusually many sign-ups, so it asks your browser to solve a small puzzle first. Please allow JavaScript, wait for the check to finish, and press Subscribe again.'
        : 'Please wait for the check below the form to finish (it needs JavaScript), then press Subscribe again.',
    );
  }

  async function screen(input: ScreenInput): Promise<{ email: string; held: boolean }> {
    meter.note();
    await current();
    if (await challengeRequired()) await checkChallenge(input);
    const check: EmailCheck = await validator.check(input.email, { acceptTypo: input.acceptTypo });
    if (check.kind === 'typo') throw new AddressError(check.code, check.message, check.suggestion);
    if (check.kind === 'refused') {
      await record({ ...input, email: check.email }, check.reason, 'refused');
      throw new AddressError(check.code, check.message);
    }
    if (check.hold) {
      await record({ ...input, email: check.email }, check.hold, 'held');
      return { email: check.email, held: true };
    }
    if (check.unverified) await record({ ...input, email: check.email }, 'dns_unverified', 'flagged');
    return { email: check.email, held: false };
  }

  async function widget(): Promise<ChallengeWidget | undefined> {
    if (!(await challengeRequired())) return undefined;
    const c = signup.captcha;
    return c ? { kind: c.provider, siteKey: c.siteKey, scriptUrl: CAPTCHA_SCRIPT[c.provider], field: CAPTCHA_FIELD[c.provider] } : { kind: 'altcha', challengeUrl: CHALLENGE_PATH };
  }

  const guard: SignupGuard = { refused: (input, reason) => record(input, reason, 'refused'), screen, widget };

  /** The "Signup protection" page. */
  async function overview() {
    const now = clock.now();
    const [day, week, held, flagged] = await Promise.all([
      repo.countByReason(db, now - DAY),
      repo.countByReason(db, now - 7 * DAY),
      repo.listAttempts(db, ['held'], 50),
      repo.listAttempts(db, ['flagged'], 20),
    ]);
    return { day, week, held, flagged, settings: await current(), underAttack: meter.underAttack(), attackUntil: meter.until(), challengeOn: await challengeRequired() };
  }

  async function saveSettings(next: ProtectionSettings): Promise<void> {
    await repo.writeSetting(db, SETTINGS_KEY, JSON.stringify(next), clock.now());
    settings = next;
    loadedAt = clock.now();
  }

  /** Takes a held sign-up out of review; the caller subscribes it (with the confirmation mail). */
  async function approve(id: number, admit: (held: { newsletterId: number | null; email: string; name: string; source: string }) => Promise<void>): Promise<void> {
    const attempt = await repo.findAttempt(db, id);
    if (!attempt || attempt.outcome === 'refused' || attempt.outcome === 'flagged') throw new NotFoundError('There is no held sign-up with that number.');
    if (!(await repo.markApproved(db, id, clock.now()))) throw new ConflictError('This sign-up was approved already.');
    await admit({ newsletterId: attempt.newsletter_id, email: attempt.email, name: attempt.name, source: attempt.source });
  }

  return {
    guard,
    validator,
    domains,
    overview,
    saveSettings,
    approve,
    challengeRequired,
    /** A fresh proof-of-work challenge for the widget. */
    issueChallenge: () => pow.issue(clock.now()),
    captcha: signup.captcha,
    prune: () => repo.pruneProtection(db, clock.now(), clock.now() - ATTEMPT_RETENTION_MS),
  };
}
