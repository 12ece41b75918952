import { hash, verify } from '@node-rs/argon2';

// OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane); about 20 ms here, affordable on every login.
// `algorithm: 2` is Argon2id (the package exports it as an ambient const enum, which isolated modules cannot read).
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Verifies against a throwaway hash, so a login for an unknown email costs the same time as one for a
 * known email with a wrong password: response time does not reveal who has an account.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummyHash ??= hashPassword('gazette-timing-equaliser');
  await verifyPassword(await dummyHash, password);
}

/** Why a new password is unacceptable, or undefined when it is fine. No composition rules (NIST 800-63B). */
export function passwordProblem(password: string, context: string[] = []): string | undefined {
  if (password.length < PASSWORD_MIN_LENGTH) return `Use at least ${PASSWORD_MIN_LENGTH} characters.`;
  if (password.length > PASSWORD_MAX_LENGTH) return `Use at most ${PASSWORD_MAX_LENGTH} characters.`;
  if (/^(.)\1+$/.test(password)) return 'Choose a password that is not one repeated character.';
  const lower = password.toLowerCase();
  if (context.some((c) => c.length >= 4 && lower.includes(c.toLowerCase()))) {
    return 'Choose a password that does not contain your name or email.';
  }
  if (COMMON.has(lower)) return 'That password is too common; choose another.';
  return undefined;
}

// The most common passwords of at least the minimum length (from public breach-frequency lists).
const COMMON = new Set([
  '1234567890', '0123456789', '12345678910', '1234567891', 'qwertyuiop', 'password12', 'password123',
  'password1234', 'iloveyou12', 'qwerty1234', 'qwerty12345', '1q2w3e4r5t', '1qaz2wsx3edc', 'asdfghjkl1',
  'zxcvbnm123', 'football12', 'baseball12', 'welcome123', 'abc1234567', 'letmein123', 'princess12',
  'administrator', 'passw0rd123', 'changeme123', 'trustno1234', 'superman12', 'newsletter', 'newsletter1',
  'gazette123', 'qwertyuiop1', '11111111111', 'aaaaaaaaaa1', 'password!1', 'p@ssw0rd123',
]);
