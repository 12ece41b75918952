import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createSmtpPool, type SmtpPool } from '../../src/sending/smtp-pool.js';
import { isWireReady, type BulkTransport, type OutgoingRaw } from '../../src/sending/transport.js';
import { qpPiece } from '../../src/sending/mime.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';

/**
 * The pool's byte path: messages that need no dot-stuffing skip the escaping transform, everything
 * else goes through it. Either way the relay must receive exactly the message (smtp-server undoes
 * the stuffing), and content that looks like the end of DATA must never end it.
 */

const head = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: dots\r\n\r\n';

/** A pool on the test relay (plain SMTP, no login). */
const poolFor = (smtp: TestSmtpServer, size: number): SmtpPool =>
  createSmtpPool({ host: '127.0.0.1', port: smtp.port, secure: false, user: undefined, password: undefined }, { size });

describe('isWireReady', () => {
  it('accepts CRLF messages with no line starting with a dot', () => {
    assert.equal(isWireReady(Buffer.from(`${head}Hello.\r\n=2E starts with a dot\r\n`)), true);
  });
  it('refuses what would need stuffing, could end DATA, or lacks the final CRLF', () => {
    for (const text of [
      `${head}.leading dot\r\n`,
      `${head}body\r\n.\r\nMAIL FROM:<evil@example.com>\r\n`,
      `${head}bare\r.\r\n`,
      `${head}bare\n.\n`,
      `.${head}x\r\n`,
      `${head}no final line end`,
      '',
    ]) {
      assert.equal(isWireReady(Buffer.from(text)), false, JSON.stringify(text));
    }
  });
  it('holds for quoted-printable pieces whatever dots the text has', () => {
    const lines = ['.', '..', '.hidden', 'a.b', `${'x'.repeat(72)}.tail`, `${'y'.repeat(73)}.`, `${'é'.repeat(30)}.z`];
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: 1 + (i % 7) }, (_, j) => lines[(i + j) % lines.length]! + (i % 3 === 0 ? ' .' : '')).join(i % 2 ? '\n' : '\r\n');
      const piece = qpPiece(text, i % 2 === 0);
      assert.equal(isWireReady(Buffer.from(`${head}${piece}${piece.endsWith('\r\n') ? '' : '\r\n'}`)), true, JSON.stringify(text));
      for (const line of piece.split('\r\n')) assert.ok(line.length <= 76, `line of ${line.length}`);
    }
  });
});

describe('the SMTP pool on the wire', () => {
  let smtp: TestSmtpServer;
  let pool: BulkTransport;
  before(async () => {
    smtp = await startSmtpServer();
    pool = poolFor(smtp, 2);
  });
  after(async () => {
    await pool.close();
    await smtp.close();
  });

  const send = (to: string, raw: Buffer) => pool.send({ from: 'a@example.com', to, raw, messageId: `<${to}>`, subject: 'dots' });

  it('sends a wire-ready message byte for byte', async () => {
    const raw = Buffer.from(`${head}First line\r\n=2Eencoded dot\r\n\r\nlast line\r\n`);
    assert.equal(isWireReady(raw), true);
    assert.equal((await send('ready@example.com', raw)).kind, 'sent');
    await smtp.waitFor(1);
    assert.deepEqual(smtp.messages.find((m) => m.envelope.to.includes('ready@example.com'))!.raw, raw);
  });

  it('stuffs dots of any other message, so content never ends DATA early', async () => {
    const raw = Buffer.from(`${head}.leading\r\n..two\r\n.\r\nMAIL FROM:<smuggled@example.com>\r\n.\r\nafter\r\n`);
    assert.equal(isWireReady(raw), false);
    assert.equal((await send('stuffed@example.com', raw)).kind, 'sent');
    await smtp.waitFor(2);
    assert.deepEqual(smtp.messages.find((m) => m.envelope.to.includes('stuffed@example.com'))!.raw, raw);
    assert.equal(smtp.messages.length, 2, 'no extra message was smuggled in');
  });

  it('sends many in a row on kept-alive connections, each intact', async () => {
    const before = smtp.messages.length;
    const raws = Array.from({ length: 20 }, (_, i) => Buffer.from(`${head}message ${i}\r\n${i % 2 ? '.odd\r\n' : '=2Eeven\r\n'}`));
    const outcomes = await Promise.all(raws.map((raw, i) => send(`many${i}@example.com`, raw)));
    assert.ok(outcomes.every((o) => o.kind === 'sent'));
    await smtp.waitFor(before + 20);
    for (const [i, raw] of raws.entries()) {
      assert.deepEqual(smtp.messages.find((m) => m.envelope.to.includes(`many${i}@example.com`))!.raw, raw);
    }
  });
});

describe('the SMTP pool with gates and PIPELINING', () => {
  /** A fresh relay (it offers PIPELINING) and a pool on it, both closed when the test ends. */
  async function relayAndPool(t: TestContext, size: number): Promise<{ smtp: TestSmtpServer; pool: SmtpPool }> {
    const smtp = await startSmtpServer({ parse: false });
    const pool = poolFor(smtp, size);
    t.after(async () => {
      await pool.close();
      await smtp.close();
    });
    return { smtp, pool };
  }

  const outgoing = (to: string): OutgoingRaw => ({ from: 'a@example.com', to, raw: Buffer.from(`${head}for ${to}\r\n`), messageId: `<${to}>`, subject: 'gated' });

  /** Every recipient the relay accepted a message for, sorted (a duplicate shows twice). */
  const delivered = (smtp: TestSmtpServer) => smtp.messages.flatMap((m) => m.envelope.to).sort();

  /** Resolves with the first address the relay is asked for at RCPT TO: the envelope is out. */
  const firstRcpt = (smtp: TestSmtpServer) => new Promise<string>((resolve) => (smtp.respond.onRcpt = (address) => void resolve(address)));

  /** Submits one message whose gate the test opens or closes once its envelope reached the relay. */
  async function submitGated(smtp: TestSmtpServer, pool: SmtpPool, to: string, open: boolean) {
    const rcpt = firstRcpt(smtp);
    let decide!: (open: boolean) => void;
    const outcome = pool.submit(outgoing(to), new Promise<boolean>((resolve) => (decide = resolve)));
    assert.equal(await rcpt, to);
    decide(open);
    return outcome;
  }

  it('sends a message once its gate opens after the envelope went out', async (t) => {
    const { smtp, pool } = await relayAndPool(t, 1);
    assert.equal((await submitGated(smtp, pool, 'gated@example.com', true))?.kind, 'sent');
    assert.deepEqual(delivered(smtp), ['gated@example.com']);
  });

  it('never delivers a message whose gate closes, and sends the next one on a fresh session', async (t) => {
    const { smtp, pool } = await relayAndPool(t, 1);
    assert.equal(await submitGated(smtp, pool, 'stopped@example.com', false), null);
    // The relay was waiting for the body: the pool hangs up instead.
    await smtp.waitUntil(() => smtp.connections.open === 0, 5000, 'the stopped session to close');
    assert.equal((await pool.send(outgoing('later@example.com'))).kind, 'sent');
    assert.deepEqual(delivered(smtp), ['later@example.com']);
    assert.equal(smtp.connections.total, 2);
  });

  it('sends many messages on two pipelined sessions, each exactly once', async (t) => {
    const { smtp, pool } = await relayAndPool(t, 2);
    const addresses = Array.from({ length: 30 }, (_, i) => `many${String(i).padStart(2, '0')}@example.com`);
    const outcomes = await Promise.all(addresses.map((to) => pool.send(outgoing(to))));
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      addresses.map(() => 'sent'),
    );
    assert.deepEqual(delivered(smtp), addresses);
    assert.ok(smtp.connections.total <= 2, `${smtp.connections.total} connections`);
  });

  it('with some gates closed among many messages, delivers exactly the others, once each', async (t) => {
    const { smtp, pool } = await relayAndPool(t, 2);
    const addresses = Array.from({ length: 30 }, (_, i) => `mixed${String(i).padStart(2, '0')}@example.com`);
    const opens = addresses.map((_, i) => i % 3 !== 0);
    const outcomes = await Promise.all(addresses.map((to, i) => pool.submit(outgoing(to), Promise.resolve(opens[i]!))));
    assert.deepEqual(
      outcomes.map((o) => o?.kind ?? null),
      opens.map((open) => (open ? 'sent' : null)),
    );
    assert.deepEqual(
      delivered(smtp),
      addresses.filter((_, i) => opens[i]),
    );
  });
});
