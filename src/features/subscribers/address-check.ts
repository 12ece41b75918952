import { ValidationError } from '../../lib/errors.js';
import type { CheckOptions, EmailCheck } from '../validation/validator.js';

/** The sign-up form's address checks (features/validation). */
export type CheckEmail = (email: string, options?: CheckOptions) => Promise<EmailCheck>;

/**
 * An address the writer adds by hand passes the same checks as a reader's sign-up: a likely typo is
 * questioned (the writer may keep it), an address that cannot receive mail is refused in words. A
 * throwaway address the policy would hold is taken: the writer is the reviewer.
 */
export async function checkAddedAddress(check: CheckEmail | undefined, email: string, acceptTypo: boolean): Promise<string> {
  if (!check) return email;
  const c = await check(email, { acceptTypo });
  if (c.kind === 'typo') {
    throw new ValidationError({ email: `Did you mean ${c.suggestion}? Correct the address, or add it as typed.`, accept_typo: 'Tick this to add the address exactly as typed.' });
  }
  if (c.kind === 'refused') throw new ValidationError({ email: c.message });
  return c.email;
}
