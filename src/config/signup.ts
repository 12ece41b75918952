import { boolean, domainList, integer, optionalText, type Add, type EnvOf } from './values.js';

/** Who may sign up: address checks, blocked and allowed domains, and the challenges against bots. */

export interface SignupConfig {
  /** Look up MX (or A/AAAA) records of a new address's domain. */
  dnsCheck: boolean;
  /** The whole lookup's budget; past it the sign-up goes through, flagged as unverified. */
  dnsTimeoutMs: number;
  /** `ip` or `ip:port` of the resolvers to ask; undefined means the system's. */
  dnsServers: string[] | undefined;
  /** What happens to an address at a throwaway-mailbox provider. */
  disposable: 'reject' | 'hold' | 'allow';
  /** Domains never treated as disposable (and never offered a typo correction). */
  allowedDomains: string[];
  /** Sign-ups per minute above which the proof-of-work challenge turns on by itself. */
  attackThresholdPerMinute: number;
  /** A third-party challenge used instead of the built-in proof of work. */
  captcha: CaptchaConfig | undefined;
}

export interface CaptchaConfig {
  provider: 'turnstile' | 'hcaptcha';
  siteKey: string;
  secret: string;
  /** The provider's siteverify endpoint (its public one unless CAPTCHA_VERIFY_URL says otherwise). */
  verifyUrl: string;
}

export const signupEnv = {
  SUBSCRIBE_BLOCKED_DOMAINS: optionalText.refine(
    (v) => v === undefined || v.split(',').every((d) => /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(d.trim()) || d.trim() === ''),
    { message: 'must be a comma-separated list of domains like spam.example,mailinator.com' },
  ),
  RECORD_SUBSCRIBER_IP: boolean,
  SUBSCRIBE_RATE_LIMIT: integer('SUBSCRIBE_RATE_LIMIT', 1, 100000),
  EMAIL_DNS_CHECK: boolean,
  EMAIL_DNS_TIMEOUT: integer('EMAIL_DNS_TIMEOUT', 10, 30000),
  EMAIL_DNS_SERVERS: optionalText.refine((v) => v === undefined || v.split(',').every((s) => /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]|[0-9a-f:]+)(:\d{1,5})?$/i.test(s.trim())), {
    message: 'must be a comma-separated list of resolver addresses like 1.1.1.1,127.0.0.1:5353',
  }),
  DISPOSABLE_EMAILS: optionalText.refine((v) => v === undefined || ['reject', 'hold', 'allow'].includes(v), { message: 'must be reject, hold or allow' }),
  SUBSCRIBE_ALLOWED_DOMAINS: optionalText.refine((v) => v === undefined || v.split(',').every((d) => /^[a-z0-9.-]+\.[a-z0-9-]{2,}$/i.test(d.trim()) || d.trim() === ''), {
    message: 'must be a comma-separated list of domains like staff.example.org',
  }),
  SIGNUP_ATTACK_THRESHOLD: integer('SIGNUP_ATTACK_THRESHOLD', 1, 1000000),
  TURNSTILE_SITE_KEY: optionalText,
  TURNSTILE_SECRET: optionalText,
  HCAPTCHA_SITE_KEY: optionalText,
  HCAPTCHA_SECRET: optionalText,
  CAPTCHA_VERIFY_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/i.test(v), { message: 'must be an http(s) URL' }),
};

type SignupEnv = EnvOf<typeof signupEnv>;

export function parseSignup(e: SignupEnv, add: Add): SignupConfig {
  const turnstile = e.TURNSTILE_SITE_KEY !== undefined || e.TURNSTILE_SECRET !== undefined;
  const hcaptcha = e.HCAPTCHA_SITE_KEY !== undefined || e.HCAPTCHA_SECRET !== undefined;
  let captcha: CaptchaConfig | undefined;
  if (turnstile && hcaptcha) add('TURNSTILE_SECRET', 'set either the TURNSTILE_* or the HCAPTCHA_* pair, not both');
  else if (turnstile || hcaptcha) {
    const [site, secret, provider, url] = turnstile
      ? (['TURNSTILE_SITE_KEY', 'TURNSTILE_SECRET', 'turnstile', 'https://challenges.cloudflare.com/turnstile/v0/siteverify'] as const)
      : (['HCAPTCHA_SITE_KEY', 'HCAPTCHA_SECRET', 'hcaptcha', 'https://api.hcaptcha.com/siteverify'] as const);
    if (e[site] === undefined) add(site, `is required when ${secret} is set`);
    else if (e[secret] === undefined) add(secret, `is required when ${site} is set`);
    else captcha = { provider, siteKey: e[site], secret: e[secret], verifyUrl: e.CAPTCHA_VERIFY_URL ?? url };
  }
  return {
    dnsCheck: e.EMAIL_DNS_CHECK ?? true,
    dnsTimeoutMs: e.EMAIL_DNS_TIMEOUT ?? 2000,
    dnsServers: e.EMAIL_DNS_SERVERS === undefined ? undefined : e.EMAIL_DNS_SERVERS.split(',').map((s) => s.trim()).filter(Boolean),
    disposable: (e.DISPOSABLE_EMAILS as SignupConfig['disposable'] | undefined) ?? 'reject',
    allowedDomains: domainList(e.SUBSCRIBE_ALLOWED_DOMAINS),
    attackThresholdPerMinute: e.SIGNUP_ATTACK_THRESHOLD ?? 30,
    captcha,
  };
}
