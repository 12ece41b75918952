import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assemble, compileMessage, type CompiledMessage, type MessageTemplate, type Recipient } from '../../src/sending/message.js';
import { createThreadedSmtpTransport } from '../../src/sending/smtp-thread.js';
import type { BulkTransport } from '../../src/sending/transport.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';
import { makeNewsletter } from './fixtures.js';

/**
 * Without DKIM the SMTP worker thread renders the messages it sends, from the post's template (sent to
 * it once) and a recipient record. What reaches the relay must be byte for byte what the main thread's
 * render gives for the same recipient and time, for names that stress the encoders, across more posts
 * than the worker keeps templates for.
 */

const NAMES = ['Jürgen Groß', 'Evil\r\nBcc: victim@example.com', '"Quoted" \\ Name, Jr.', '<script>alert(1)</script>', '', '山田 太郎', '.dotty'];

describe('the SMTP worker renders messages from post templates', () => {
  let smtp: TestSmtpServer;
  let transport: BulkTransport;
  let db: TestDb;
  const posts: CompiledMessage[] = [];

  before(async () => {
    smtp = await startSmtpServer();
    transport = createThreadedSmtpTransport({ host: '127.0.0.1', port: smtp.port, secure: false, user: undefined, password: undefined }, { size: 3 });
    db = await createTestDb('sqlite');
    const nl = await makeNewsletter(db.db, Date.now(), { from_name: 'Zoë Écrivain', reply_to: 'replies@example.com' });
    // Ten posts: more than the eight templates a worker keeps, so some are dropped and sent again.
    for (let p = 1; p <= 10; p++) {
      posts.push(
        compileMessage(
          { id: p, slug: `post-${p}` },
          nl,
          {
            subject: p % 2 ? `Issue ${p} for {{ subscriber.name | default: "you" }}` : `Issue ${p}`,
            html: `<p>Hello {{ subscriber.name | default: "friend" }} from {{ subscriber.attributes.city | default: "nowhere" }}</p>\n.<p>${'x'.repeat(200 * p)}</p>`,
            text: `Hello {{ subscriber.name }},\n.\nBye: {{ unsubscribe_url }}\n`,
          },
          { baseUrl: 'https://news.example.org', mailFrom: 'Gazette <news@example.org>', listUnsubscribeMailto: 'unsubscribe@example.org' },
        ),
      );
    }
  });
  after(async () => {
    await transport.close();
    await smtp.close();
    await db.drop();
  });

  it('sends exactly what the main thread would have rendered', async () => {
    assert.ok(transport.sendTemplated, 'the threaded SMTP transport renders');
    const date = Date.UTC(2026, 10, 23, 9, 30, 15);
    const sends: Array<{ to: string; from: string; expected: Buffer; outcome: Promise<unknown> }> = [];
    // Posts 1..10, then 1..10 again: the second round needs templates the worker dropped.
    for (const round of [0, 1]) {
      for (const [p, post] of posts.entries()) {
        for (const [i, name] of NAMES.entries()) {
          const recipient: Recipient = {
            email: `r${round}-${p}-${i}@example.com`,
            name,
            attributes: JSON.stringify({ city: i % 2 ? 'Zürich' : '' }),
            token: `token-${round}-${p}-${i}`,
            messageId: `<m${round}.${p}.${i}@example.org>`,
          };
          const expected = assemble(post.render(recipient, date));
          sends.push({ to: recipient.email, from: post.envelopeFrom, expected, outcome: transport.sendTemplated!({ from: post.envelopeFrom, template: post.template, recipient, date }) });
        }
      }
    }
    for (const s of sends) assert.equal(((await s.outcome) as { kind: string }).kind, 'sent');
    await smtp.waitFor(sends.length);
    for (const s of sends) {
      const got = smtp.messages.filter((m) => m.envelope.to.includes(s.to));
      assert.equal(got.length, 1, s.to);
      assert.deepEqual(got[0]!.raw.toString('latin1'), s.expected.toString('latin1'), s.to);
      assert.equal(got[0]!.envelope.from, s.from);
    }
  });
});

describe('prepared messages through the SMTP worker', () => {
  it('opens envelopes at once, delivers only what is released, and never what is cancelled', async () => {
    const smtp = await startSmtpServer();
    const transport = createThreadedSmtpTransport({ host: '127.0.0.1', port: smtp.port, secure: false, user: undefined, password: undefined }, { size: 3 });
    try {
      const rcpts: string[] = [];
      smtp.respond.onRcpt = (address) => {
        rcpts.push(address);
        return undefined;
      };
      const raw = (to: string) => Buffer.from(`From: news@example.org\r\nTo: ${to}\r\nSubject: Hi\r\n\r\nHello.\r\n`);
      const to = ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com'];
      const prepared = to.map((address) => transport.prepare!({ from: 'news@example.org', to: address, raw: raw(address), messageId: `<${address}>`, subject: 'Hi' }));
      // Three sessions take the first three; their envelopes go out before anything is released.
      await smtp.waitUntil(() => rcpts.length >= 3, 5000, 'three envelopes');
      assert.equal(smtp.messages.length, 0, 'nothing is delivered before it is released');
      prepared[1]!.cancel();
      const outcomes = await Promise.all([prepared[0]!.release(), prepared[2]!.release(), prepared[3]!.release()]);
      assert.deepEqual(outcomes.map((o) => o.kind), ['sent', 'sent', 'sent']);
      await smtp.waitFor(3);
      assert.deepEqual(smtp.messages.flatMap((m) => m.envelope.to).sort(), ['a@example.com', 'c@example.com', 'd@example.com']);
    } finally {
      await transport.close();
      await smtp.close();
    }
  });
});

describe('when the SMTP worker dies', () => {
  it('reports released messages unknown, unreleased ones retry, and starts a new worker for the next', async () => {
    let holdData: (() => void) | undefined;
    const dataSeen: string[] = [];
    const smtp = await startSmtpServer();
    const transport = createThreadedSmtpTransport({ host: '127.0.0.1', port: smtp.port, secure: false, user: undefined, password: undefined }, { size: 3 });
    try {
      // The relay holds its answer to the first message: it is on the wire when the worker dies.
      smtp.respond.onData = (_raw, envelope) => {
        dataSeen.push(...envelope.to);
        return new Promise((resolve) => (holdData = () => resolve(undefined)));
      };
      const raw = (to: string) => Buffer.from(`From: news@example.org\r\nTo: ${to}\r\nSubject: Hi\r\n\r\nHello.\r\n`);
      const prepare = (to: string) => transport.prepare!({ from: 'news@example.org', to, raw: raw(to), messageId: `<${to}>`, subject: 'Hi' });
      const released = prepare('released@example.com');
      const unreleased = prepare('waiting@example.com');
      const releasedOutcome = released.release();
      await smtp.waitUntil(() => dataSeen.length === 1, 5000, 'the released message on the wire');
      assert.deepEqual(dataSeen, ['released@example.com']);
      // A template the worker cannot use throws in its message handler: the thread dies, as with any bug.
      const broken = transport.sendTemplated!({ from: 'news@example.org', template: {} as MessageTemplate, recipient: { email: 'x@example.com', name: '', attributes: '{}', token: 't', messageId: '<x@example.com>' }, date: Date.now() });
      const [a, c] = await Promise.all([releasedOutcome, broken]);
      // Released only now, after the death answered it: the answer is the one the death gave.
      const b = await unreleased.release();
      assert.equal(a.kind, 'unknown', 'on the wire when the worker died: may have been delivered');
      assert.equal(b.kind, 'retry', 'prepared but never released: certainly not delivered');
      assert.equal(c.kind, 'unknown');
      holdData?.();
      // The next message gets a new worker and goes out.
      smtp.respond.onData = undefined;
      const next = await transport.send({ from: 'news@example.org', to: 'next@example.com', raw: raw('next@example.com'), messageId: '<next@example.com>', subject: 'Hi' });
      assert.equal(next.kind, 'sent');
    } finally {
      holdData?.();
      await transport.close();
      await smtp.close();
    }
  });
});
