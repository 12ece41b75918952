import { readFileSync } from 'node:fs';
import net from 'node:net';
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

/** A loopback port nobody listens on: one the OS just handed out and took back. */
export function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
