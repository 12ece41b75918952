/**
 * Readers type their own name into a public form, and that name later appears in emails. Anything that
 * could make it a link or markup is removed first, so the form cannot be used to mail spam to a victim.
 */
export function cleanName(input: string | undefined): string {
  if (!input) return '';
  return input
    .normalize('NFC')
    .replace(/<[^>]*>?/g, ' ')
    .replace(/[<>]/g, ' ')
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S*/gi, ' ')
    .replace(/\bwww\.\S*/gi, ' ')
    .replace(/\S*[a-z0-9-]\.(?:[a-z]{2,24})(?:[/:?#]\S*)?(?=\s|$)/gi, (m) => (/^[A-Z]\.[A-Z]/.test(m) ? m : ' '))
    .replace(/\S+@\S+/g, ' ')
    .replace(/[\p{Cc}\p{Cf}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 100);
}

/**
 * The key under which attempts for one mailbox are counted: case-folded, without +tags, and for Gmail
 * without dots, so "a.b+x@gmail.com" and "ab@gmail.com" share one budget (storage keeps the exact address).
 */
export function canonicalAddress(email: string): string {
  const lower = email.trim().toLowerCase();
  const at = lower.lastIndexOf('@');
  let local = lower.slice(0, at).replace(/\+.*$/, '');
  const domain = lower.slice(at + 1);
  if (domain === 'gmail.com' || domain === 'googlemail.com') local = local.replace(/\./g, '');
  return `${local}@${domain === 'googlemail.com' ? 'gmail.com' : domain}`;
}
