import { z } from 'zod';
import type { SignupConfig } from '../../config.js';

/** When the challenge is asked: only in attack mode (default), on every sign-up, or never. */
export type ChallengeMode = 'auto' | 'always' | 'off';

/** What the writer sets on the "Signup protection" page; the environment gives the defaults. */
export interface ProtectionSettings {
  challenge: ChallengeMode;
  disposable: SignupConfig['disposable'];
  allowedDomains: string[];
  blockedDomains: string[];
}

export const SETTINGS_KEY = 'signup_protection';

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/;

const domainLines = (field: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v : ''),
    z
      .string()
      .max(20_000, 'Keep the list under 20,000 characters.')
      .transform((v) => [...new Set(v.split(/[\s,]+/).map((d) => d.trim().toLowerCase().replace(/^@/, '')).filter(Boolean))])
      .refine((list) => list.every((d) => DOMAIN.test(d)), `Write one domain per line, like example.org (${field}).`),
  );

export const settingsSchema = z.object({
  challenge: z.enum(['auto', 'always', 'off'], { error: 'Choose when to ask for the challenge.' }),
  disposable: z.enum(['reject', 'hold', 'allow'], { error: 'Choose what happens to throwaway addresses.' }),
  allowed_domains: domainLines('allowed'),
  blocked_domains: domainLines('blocked'),
});

export function defaultSettings(config: SignupConfig): ProtectionSettings {
  return { challenge: 'auto', disposable: config.disposable, allowedDomains: [], blockedDomains: [] };
}

/** Stored settings over the defaults; a value that no longer parses falls back to its default. */
export function parseStoredSettings(raw: string | undefined, defaults: ProtectionSettings): ProtectionSettings {
  if (!raw) return defaults;
  try {
    const v = JSON.parse(raw) as Partial<ProtectionSettings>;
    const list = (x: unknown) => (Array.isArray(x) ? x.filter((d): d is string => typeof d === 'string') : []);
    return {
      challenge: v.challenge === 'always' || v.challenge === 'off' || v.challenge === 'auto' ? v.challenge : defaults.challenge,
      disposable: v.disposable === 'reject' || v.disposable === 'hold' || v.disposable === 'allow' ? v.disposable : defaults.disposable,
      allowedDomains: list(v.allowedDomains),
      blockedDomains: list(v.blockedDomains),
    };
  } catch {
    return defaults;
  }
}
