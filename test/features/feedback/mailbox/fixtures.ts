import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readBounceMail } from '../../../../src/features/feedback/mailbox/bounce-mail.js';
import type { FeedbackReport } from '../../../../src/features/feedback/report.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A hand-written sample mail in one MTA's or feedback loop's shape (see fixtures/). */
export const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

/** The reports the parser makes of a fixture. */
export function reportsIn(name: string): FeedbackReport[] {
  const v = readBounceMail(fixture(name), { now: 0 });
  if (v.outcome !== 'reports') throw new Error(`${name} has no reports: ${JSON.stringify(v)}`);
  return v.reports;
}
