import type { EmailCheck, EmailRefusal } from '../validation/validator.js';
import type { ImportRowInput } from './batch.js';
import type { ImportCounts, Problem } from './repository.js';

/** The address checks the sign-up form uses, for many addresses at once (DNS once per domain). */
export type CheckEmails = (emails: readonly string[]) => Promise<EmailCheck[]>;

const REFUSED: Record<EmailRefusal, string> = {
  invalid: 'not a valid email address',
  blocked_domain: 'blocked domain: not imported',
  disposable: 'throwaway (disposable) address: not imported',
  no_domain: 'the domain does not exist: not imported',
  null_mx: 'the domain does not accept email: not imported',
};

/**
 * Runs a batch's rows through the address checks before its transaction (no DNS inside one). A refused
 * row, or one the policy would hold for review, is counted invalid and reported with its reason; a row
 * whose domain DNS could not confirm is imported with a note. Returns the rows (and their tags) to write.
 */
export async function screenRows(
  check: CheckEmails,
  rows: ImportRowInput[],
  rowTags: string[][],
  report: { problems: Problem[]; notes: Problem[]; counts: ImportCounts },
): Promise<{ rows: ImportRowInput[]; rowTags: string[][] }> {
  if (rows.length === 0) return { rows, rowTags };
  const checks = await check(rows.map((r) => r.email));
  const kept: ImportRowInput[] = [];
  const keptTags: string[][] = [];
  rows.forEach((row, i) => {
    const c = checks[i]!;
    const refusal = c.kind === 'refused' ? REFUSED[c.reason] : c.kind === 'ok' && c.hold ? `${REFUSED.disposable} (sign-ups from such addresses are held for review)` : undefined;
    if (refusal) {
      report.counts.invalid_count++;
      report.problems.push({ line: row.line, email: row.email, reason: refusal });
      return;
    }
    if (c.kind === 'ok' && c.unverified) report.notes.push({ line: row.line, email: row.email, reason: 'imported, but its domain could not be checked (DNS did not answer)' });
    kept.push(row);
    keptTags.push(rowTags[i] ?? []);
  });
  return { rows: kept, rowTags: keptTags };
}
