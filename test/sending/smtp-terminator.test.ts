import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SmtpError, SmtpSession } from '../../src/sending/smtp-session.js';
import { classifySendError } from '../../src/sending/transport.js';
import { startRawRelay, type RawRelay } from './raw-relay.js';

/**
 * Whether a message whose connection was lost may have been delivered: only when its final dot went
 * out. A raw relay on loopback cuts the connection in the middle of a message's data (a TCP reset, so
 * the rest and the dot never arrive) or hangs up after the dot without answering; with PIPELINING the
 * next message's envelope follows each message, and must never make its outcome the next one's.
 */

const FROM = 'sender@example.com';
const message = (subject: string, body = 'Hello.') => Buffer.from(`From: ${FROM}\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);
/** Bigger than the socket buffers on both ends of a loopback connection can hold between them. */
const big = (subject: string) => message(subject, `${'x'.repeat(998)}\r\n`.repeat(8 * 1024));

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relayAndSession(): Promise<{ relay: RawRelay; session: SmtpSession }> {
  const relay = await startRawRelay();
  cleanups.push(() => relay.close());
  const session = await SmtpSession.open({ host: '127.0.0.1', port: relay.port, secure: false, connectionTimeoutMs: 5000, greetingTimeoutMs: 5000, socketTimeoutMs: 5000 });
  cleanups.push(() => session.close());
  assert.equal(session.pipelining, true);
  return { relay, session };
}

/** The SmtpError a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SmtpError, `expected an SmtpError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('a connection lost during DATA', () => {
  it('before the final dot went out: not sent, the message is retried', async () => {
    const { relay, session } = await relayAndSession();
    relay.onBody = () => 'reset';
    const raw = big('cut');
    assert.ok(raw.length > 8_000_000);
    const err = await failure(session.send(FROM, 'cut@example.com', raw, true));
    assert.equal(err.dataSent, false);
    assert.equal(err.responseCode, undefined);
    assert.equal(classifySendError(err, err.dataSent).kind, 'retry');
    assert.equal(relay.cut.length, 1);
    assert.equal(relay.cut[0]!.at, 'body');
    assert.ok(relay.cut[0]!.bytes < raw.length, 'the relay had only part of the message');
    assert.equal(relay.accepted.length, 0);
  });

  it('after the final dot went out, with no answer: unknown', async () => {
    const { relay, session } = await relayAndSession();
    relay.onMessage = () => 'drop';
    const raw = message('dropped');
    const err = await failure(session.send(FROM, 'dropped@example.com', raw, true));
    assert.equal(err.dataSent, true);
    assert.equal(classifySendError(err, err.dataSent).kind, 'unknown');
    assert.deepEqual(relay.cut, [{ to: 'dropped@example.com', at: 'end', bytes: raw.length }]);
  });

  it('after a big message’s final dot went out, with no answer: unknown', async () => {
    const { relay, session } = await relayAndSession();
    relay.onMessage = () => 'drop';
    const raw = big('dropped whole');
    const err = await failure(session.send(FROM, 'dropped@example.com', raw, true));
    assert.equal(err.dataSent, true);
    assert.equal(relay.cut[0]!.bytes, raw.length, 'the relay had the whole message');
  });

  it('pipelined: the next envelope rides with the dot; a hang-up after it leaves that message unknown, the next one retried', async () => {
    const { relay, session } = await relayAndSession();
    relay.onMessage = (to) => (to === 'first@example.com' ? 'drop' : undefined);
    const first = message('first');
    await session.envelope(FROM, 'first@example.com', first.length);
    // As the pool does: the next message's envelope in the same turn as this message.
    const sent = session.data(first, true);
    const next = session.envelope(FROM, 'second@example.com', 100);
    const [a, b] = await Promise.all([failure(sent), failure(next)]);
    assert.equal(a.dataSent, true);
    assert.equal(classifySendError(a, a.dataSent).kind, 'unknown');
    assert.equal(b.dataSent, false);
    assert.equal(classifySendError(b, b.dataSent).kind, 'retry');
    assert.ok(
      relay.chunks.some((c) => c.includes(`${first.toString('latin1')}.\r\nMAIL FROM:<${FROM}>`)),
      'the dot and the next envelope left in one write',
    );
  });

  it('pipelined after a big message: the next envelope waits for its dot to be written, so a cut before the dot leaves both retried', async () => {
    const { relay, session } = await relayAndSession();
    relay.onBody = (to) => (to === 'first@example.com' ? 'reset' : undefined);
    const first = big('first');
    await session.envelope(FROM, 'first@example.com', first.length);
    const sent = session.data(first, true);
    const next = session.envelope(FROM, 'second@example.com', 100);
    const [a, b] = await Promise.all([failure(sent), failure(next)]);
    assert.equal(a.dataSent, false);
    assert.equal(classifySendError(a, a.dataSent).kind, 'retry');
    assert.equal(b.dataSent, false);
    assert.equal(relay.cut[0]?.at, 'body');
  });

  it('pipelined after a big message: when nothing is cut, both arrive whole and the session goes on', async () => {
    const { relay, session } = await relayAndSession();
    const first = big('first');
    const second = message('second');
    await session.envelope(FROM, 'first@example.com', first.length);
    const sent = session.data(first, true);
    const next = session.envelope(FROM, 'second@example.com', second.length);
    assert.equal(await sent, '250 2.0.0 queued');
    await next;
    assert.equal(await session.data(second, true), '250 2.0.0 queued');
    assert.deepEqual(
      relay.accepted.map((m) => [m.to, m.data.length]),
      [
        ['first@example.com', first.length],
        ['second@example.com', second.length],
      ],
    );
    assert.ok(relay.accepted[0]!.data.equals(first));
    assert.equal(session.alive, true);
  });
});
