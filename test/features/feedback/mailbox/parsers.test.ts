import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readBounceMail, type MailVerdict } from '../../../../src/features/feedback/mailbox/bounce-mail.js';
import { addressOf, bounceKind, parseDeliveryStatus } from '../../../../src/features/feedback/mailbox/dsn.js';
import { decodeWords, parseMessage } from '../../../../src/features/feedback/mailbox/mime.js';
import { verpTokenOf } from '../../../../src/features/feedback/mailbox/verp.js';
import type { FeedbackReport } from '../../../../src/features/feedback/report.js';
import { fixture } from './fixtures.js';

const NOW = Date.UTC(2026, 11, 9, 12, 0, 0);

function read(name: string, raw = fixture(name)): MailVerdict {
  return readBounceMail(raw, { now: NOW, verp: { localPart: 'bounces' } });
}

function reportsOf(name: string): FeedbackReport[] {
  const verdict = read(name);
  assert.equal(verdict.outcome, 'reports', `${name}: ${JSON.stringify(verdict)}`);
  return verdict.outcome === 'reports' ? verdict.reports : [];
}

/** The fields a test compares: everything but the raw mail. */
const brief = (r: FeedbackReport) => ({
  reportId: r.reportId,
  address: r.address,
  kind: r.kind,
  code: r.diagnosticCode,
  messageId: r.messageRef.messageId,
  verpToken: r.messageRef.verpToken,
  occurredAt: new Date(r.occurredAt).toISOString(),
});

describe('bounce mail: DSNs (RFC 3464) of several MTAs', () => {
  it('Postfix: the failed recipient, 5.1.1 hard, the Message-ID from the returned message/rfc822', () => {
    const [r, ...rest] = reportsOf('postfix-hard.eml');
    assert.equal(rest.length, 0);
    assert.deepEqual(brief(r!), {
      reportId: '20261207091403.4F2B01C0A3@mx.news.example.com',
      address: 'gone@example.org',
      kind: 'hard_bounce',
      code: '5.1.1',
      messageId: '5c3f1a9e0b7d4e21a8c6f0d2e4b6a8c1@news.example.com',
      verpToken: undefined,
      occurredAt: '2026-12-07T09:14:03.000Z',
    });
    assert.equal(r!.source, 'mailbox');
    assert.match(r!.diagnosticText!, /User unknown in virtual mailbox table/);
    assert.match(r!.raw, /^Return-Path: <>/);
  });

  it('Postfix with two recipients: a full mailbox (5.2.2) and an expired 4.4.1 are soft, each its own report', () => {
    const reports = reportsOf('postfix-multi.eml').map(brief);
    assert.deepEqual(
      reports.map((r) => [r.reportId, r.address, r.kind, r.code, r.messageId]),
      [
        ['20261208032011.9A1E2203B7@relay.example.net#full@example.com', 'full@example.com', 'soft_bounce', '5.2.2', 'b7e2c0d94f1a4c5e9d8a7b6c5d4e3f21@news.example.com'],
        ['20261208032011.9A1E2203B7@relay.example.net#slow@example.net', 'slow@example.net', 'soft_bounce', '4.4.1', 'b7e2c0d94f1a4c5e9d8a7b6c5d4e3f21@news.example.com'],
      ],
    );
    assert.equal(reports[1]!.occurredAt, '2026-12-08T03:20:10.000Z', 'Last-Attempt-Date is when it failed');
  });

  it('Postfix delay warning (Action: delayed) is no strike: ignored', () => {
    assert.deepEqual(read('postfix-delayed.eml'), { outcome: 'ignored', reason: 'delivery status notice (delayed)' });
  });

  it('Gmail: nested multipart/related, folded Diagnostic-Code, encoded Subject in the returned message', () => {
    const [r] = reportsOf('gmail-hard.eml');
    assert.deepEqual(
      { ...brief(r!), text: r!.diagnosticText?.slice(0, 60) },
      {
        reportId: '675412a4.050a0220.1b2c3d.0001.GMR@mx.google.com',
        address: 'no.such.reader@gmail.com',
        kind: 'hard_bounce',
        code: '5.1.1',
        messageId: '8d7c6b5a49382716a5b4c3d2e1f00f1e@news.example.com',
        verpToken: undefined,
        occurredAt: '2026-12-07T09:02:04.000Z',
        text: '550-5.1.1 The email account that you tried to reach does not',
      },
    );
  });

  it('Office 365: 5.1.10 RecipientNotFound, a folded Message-ID header, the original in text/rfc822-headers', () => {
    const [r] = reportsOf('office365-hard.eml');
    assert.deepEqual(brief(r!), {
      reportId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d@AM0PR01MB1234.eurprd01.prod.exchangelabs.com',
      address: 'j.doe@contoso.com',
      kind: 'hard_bounce',
      code: '5.1.10',
      messageId: '2b3c4d5e6f708192a3b4c5d6e7f80912@news.example.com',
      verpToken: undefined,
      occurredAt: '2026-12-07T10:20:31.000Z',
    });
  });

  it('Sendmail: the only identifier is in the text/rfc822-headers part (listmonk#492)', () => {
    const [r] = reportsOf('sendmail-headers-only.eml');
    assert.equal(r!.address, 'graduated@university.example');
    assert.equal(r!.kind, 'hard_bounce');
    assert.equal(r!.messageRef.messageId, 'feedface00112233445566778899aabb@news.example.com');
  });

  it('a VERP return path names the delivery when the bounce quotes nothing of the original', () => {
    const [r] = reportsOf('verp-only.eml');
    assert.deepEqual(r!.messageRef, { verpToken: 'Q2VA6Y1.k3j9x2p4' });
    assert.equal(r!.address, 'closed@example.com');
    assert.equal(r!.kind, 'hard_bounce');
  });
});

describe('bounce mail: plain-text bounces', () => {
  it('Exim: X-Failed-Recipients, the SMTP answer, the Message-ID from the copy after the marker line', () => {
    const [r] = reportsOf('exim-hard.eml');
    assert.deepEqual(brief(r!), {
      reportId: 'E1vKx2a-0004Fp-2Q@smtp.hosting.example',
      address: 'old.reader@example.net',
      kind: 'hard_bounce',
      code: '5.1.1',
      messageId: 'c0ffee00112233445566778899aabbcc@news.example.com',
      verpToken: undefined,
      occurredAt: '2026-12-07T11:05:12.000Z',
    });
    assert.equal(r!.diagnosticText, '550 5.1.1 <old.reader@example.net>: Recipient address rejected: User unknown');
  });

  it('Exim delay warning: ignored', () => {
    assert.deepEqual(read('exim-delayed.eml'), { outcome: 'ignored', reason: 'delay notice' });
  });

  it('qmail: "<address>:" lines, "given up" is permanent; no Message-ID on the bounce, so the id is a hash', () => {
    const [r] = reportsOf('qmail-hard.eml');
    assert.equal(r!.address, 'moved.away@oldhost.example');
    assert.equal(r!.kind, 'hard_bounce');
    assert.equal(r!.diagnosticCode, '5.1.1');
    assert.equal(r!.messageRef.messageId, 'deadbeef00112233445566778899aabb@news.example.com');
    assert.match(r!.reportId, /^sha256:[0-9a-f]{64}$/);
    assert.equal(reportsOf('qmail-hard.eml')[0]!.reportId, r!.reportId, 'the same mail gives the same id');
  });

  it('hMailServer: a bare 550 reply is hard; no original quoted, so no message reference (stored unmatched)', () => {
    const [r] = reportsOf('hmailserver-hard.eml');
    assert.equal(r!.address, 'nobody.here@smallbiz.example');
    assert.equal(r!.kind, 'hard_bounce');
    assert.equal(r!.diagnosticCode, undefined, 'no enhanced code in the notice: none is invented');
    assert.equal(r!.diagnosticText, '550 No such recipient here');
    assert.deepEqual(r!.messageRef, {});
  });
});

describe('bounce mail: complaints (ARF, RFC 5965)', () => {
  it('Yahoo: Feedback-Type abuse is a complaint about Original-Rcpt-To', () => {
    const [r] = reportsOf('arf-yahoo.eml');
    assert.deepEqual(brief(r!), {
      reportId: '1796655761.4242.arf@arf.mail.yahoo.com',
      address: 'annoyed.reader@yahoo.com',
      kind: 'complaint',
      code: undefined,
      messageId: 'a0b1c2d3e4f5061728394a5b6c7d8e9f@news.example.com',
      verpToken: undefined,
      occurredAt: '2026-12-07T14:58:02.000Z',
    });
  });

  it('a redacted recipient is not taken for an address: the Message-ID alone identifies the delivery', () => {
    const [r] = reportsOf('arf-redacted.eml');
    assert.equal(r!.kind, 'complaint');
    assert.equal(r!.address, '');
    assert.equal(r!.messageRef.messageId, '1234567890abcdef1234567890abcdef@news.example.com');
  });

  it('not-spam is ignored', () => {
    assert.deepEqual(read('arf-not-spam.eml'), { outcome: 'ignored', reason: 'feedback report of type not-spam' });
  });
});

describe('bounce mail: unsubscribe requests through the List-Unsubscribe mailto', () => {
  it('the subject names the reader by their personal token; the From address is not trusted for it', () => {
    const verdict = read('mailto-unsubscribe.eml');
    assert.equal(verdict.outcome, 'unsubscribe');
    if (verdict.outcome !== 'unsubscribe') return;
    assert.equal(verdict.token, 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C');
    assert.deepEqual(
      { ...verdict.report, raw: undefined },
      { source: 'mailbox', reportId: 'A7B8C9D0-1E2F-4A5B-8C7D-9E0F1A2B3C4D@example.com', messageRef: {}, kind: 'unsubscribe', occurredAt: Date.UTC(2026, 11, 8, 7, 45), raw: undefined },
    );
  });

  it('a subject with no token, or a reply quoting one, is not a request', () => {
    const mail = (subject: string) => Buffer.from(`From: a@b.example\nSubject: ${subject}\n\nplease\n`);
    assert.equal(read('x', mail('unsubscribe')).outcome, 'unparsed');
    assert.equal(read('x', mail('Re: unsubscribe q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6')).outcome, 'unparsed');
    assert.equal(read('x', mail('=?utf-8?Q?unsubscribe_q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6?=')).outcome, 'unsubscribe');
  });
});

describe('bounce mail: what is not a bounce', () => {
  it('a vacation auto-reply is ignored, never a bounce', () => {
    assert.deepEqual(read('vacation.eml'), { outcome: 'ignored', reason: 'auto-reply' });
  });

  it('a human reply is left for a human (unparsed)', () => {
    assert.deepEqual(read('human-reply.eml'), { outcome: 'unparsed', reason: 'neither a bounce nor a complaint' });
  });

  it('garbage, an empty mail and a bounce naming no address are unparsed, never a throw', () => {
    for (const raw of ['', '\u0000\u0001binary', 'no headers at all\n\njust text', 'Content-Type: multipart/report; boundary=x\n\n--x\n--x--']) {
      assert.equal(read('inline', Buffer.from(raw)).outcome, 'unparsed', JSON.stringify(raw));
    }
    const noAddress = 'From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\n\nSomething went wrong.\n';
    assert.deepEqual(read('inline', Buffer.from(noAddress)), { outcome: 'unparsed', reason: 'a bounce that names no failed address' });
  });

  it('a bounce with LF line endings reads the same as with CRLF', () => {
    const crlf = Buffer.from(fixture('postfix-hard.eml').toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    assert.deepEqual(brief(reportsOf('postfix-hard.eml')[0]!), brief((read('x', crlf) as { reports: FeedbackReport[] }).reports[0]!));
  });
});

describe('bounce classification and the small parsers', () => {
  it('classifies by status class and action', () => {
    const kind = (action: string, status?: string, diagnostic?: string) => bounceKind({ action, status, diagnostic });
    assert.equal(kind('failed', '5.1.1'), 'hard_bounce');
    assert.equal(kind('failed', '5.4.4'), 'hard_bounce');
    assert.equal(kind('failed', '4.4.7'), 'soft_bounce');
    assert.equal(kind('failed', '5.2.2', 'Mailbox full'), 'soft_bounce');
    assert.equal(kind('failed', '5.7.1', '550 5.7.1 Message rejected as spam by Content Filtering'), 'soft_bounce');
    assert.equal(kind('failed', '5.7.1', '550 5.7.1 Recipient address rejected: user unknown'), 'hard_bounce');
    assert.equal(kind('failed', undefined, '452 too many recipients'), 'soft_bounce');
    // The address is fine: the message, the sender or the systems are to blame.
    assert.equal(kind('failed', '5.7.26', '550-5.7.26 This mail has been blocked because the sender is unauthenticated.'), 'soft_bounce');
    assert.equal(kind('failed', '5.7.1', '550 5.7.1 Unfortunately, messages from [198.51.100.10] weren\'t sent. Our block list (S3150)'), 'soft_bounce');
    assert.equal(kind('failed', '5.7.1', '554 5.7.1 Service unavailable; Client host [198.51.100.10] blocked using zen.spamhaus.org'), 'soft_bounce');
    assert.equal(kind('failed', '5.0.0', '550 High probability of unsolicited mail'), 'soft_bounce');
    assert.equal(kind('failed', '5.4.7', 'delivery time expired'), 'soft_bounce');
    assert.equal(kind('failed', '5.3.4', 'message too big for system'), 'soft_bounce');
    assert.equal(kind('failed', '5.6.0', 'content conversion failed'), 'soft_bounce');
    // The address is gone, whatever else the answer says.
    assert.equal(kind('failed', '5.4.4', 'Host or domain name not found'), 'hard_bounce');
    assert.equal(kind('failed', '5.4.1', '550 5.4.1 Recipient address rejected: Access denied'), 'hard_bounce');
    assert.equal(kind('failed', '5.5.0', '550 5.5.0 Requested action not taken: mailbox unavailable'), 'hard_bounce');
    assert.equal(kind('failed', '5.2.1', 'The email account that you tried to reach is disabled.'), 'hard_bounce');
    assert.equal(kind('failed', '5.7.1', '550 5.7.1 spam filter: no such user'), 'hard_bounce');
    assert.equal(kind('failed', '5.0.0', '550 Requested action not taken'), 'hard_bounce');
    assert.equal(kind('failed'), 'hard_bounce', 'failed means no more attempts (RFC 3464)');
    assert.equal(kind('delayed', '4.4.1'), undefined);
    assert.equal(kind('delivered', '2.0.0'), undefined);
    assert.equal(kind('relayed', '2.0.0'), undefined);
  });

  it('reads delivery-status groups with folded fields and mixed-case types', () => {
    const ds = parseDeliveryStatus('Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: RFC822; <A@B.example>\r\nAction: Failed\r\nStatus: 5.1.1 (bad mailbox)\r\nDiagnostic-Code: smtp; 550\r\n  no such user\r\n');
    assert.deepEqual(ds, { reportingMta: 'mx.example', recipients: [{ address: 'a@b.example', action: 'failed', status: '5.1.1', diagnostic: '550 no such user' }] });
  });

  it('a bare 5.0.0 in Status gives way to the precise code of the remote answer', () => {
    const ds = parseDeliveryStatus('Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 5.1.1 <a@b.example>: user unknown\n');
    assert.equal(ds.recipients[0]!.status, '5.1.1');
    const other = parseDeliveryStatus('Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 451 4.7.1 later\n');
    assert.equal(other.recipients[0]!.status, '5.0.0', 'a code of another class does not override it');
  });

  it('addresses, encoded words, VERP tokens', () => {
    assert.equal(addressOf('rfc822; Gone@Example.ORG'), 'gone@example.org');
    assert.equal(addressOf('"Name, Jr" <x.y@z.example>'), 'x.y@z.example');
    assert.equal(addressOf('nothing here'), undefined);
    assert.equal(decodeWords('=?utf-8?Q?Issue_42=3A_winter_reading_=E2=9D=84?='), 'Issue 42: winter reading ❄');
    assert.equal(decodeWords('=?iso-8859-1?B?Q2Fm6Q==?= ok'), 'Café ok');
    assert.equal(verpTokenOf('bounces+AbC.12@bounce.example', { localPart: 'bounces' }), 'AbC.12');
    assert.equal(verpTokenOf('Bounces-AbC.12@bounce.example', { localPart: 'bounces', domain: 'BOUNCE.example' }), 'AbC.12');
    assert.equal(verpTokenOf('bounces+x@other.example', { localPart: 'bounces', domain: 'bounce.example' }), undefined);
    assert.equal(verpTokenOf('bounces@bounce.example', { localPart: 'bounces' }), undefined);
    assert.equal(verpTokenOf('bouncesX1@bounce.example', { localPart: 'bounces' }), undefined);
  });

  it('decodes base64 and quoted-printable parts in their charset', () => {
    const m = parseMessage(
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 =\r\nnoir\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nw6l0w6k=\r\n--b--\r\n',
    );
    assert.deepEqual(
      m.parts.map((p) => new TextDecoder(p.params.charset).decode(p.body)),
      ['Café noir', 'été'],
    );
  });
});

describe('bounce mail: hostile input', () => {
  // Each of these made a backtracking pattern scan quadratically; a regression would hang (the runner's
  // timeout fails it) rather than be slow.
  it('reads megabyte-long lines, unclosed tags and address-like runs in linear time', () => {
    const long = 'a'.repeat(2_000_000);
    const mails = [
      `From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n\n${'a@' + long}\n`,
      `From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\nContent-Type: text/html\n\n${'<'.repeat(2_000_000)}\n`,
      `From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n\n-- ${long} copy of the message\n`,
      `From: x@y.example\nSubject: warning: message ${long}\nDate: ${'('.repeat(100_000)}\n\nhello\n`,
      `Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; ${'a@'.repeat(500_000)}\nAction: failed\n--b--\n`,
    ];
    for (const raw of mails) assert.ok(['unparsed', 'ignored', 'reports'].includes(read('x', Buffer.from(raw)).outcome));
  });

  it('nesting beyond eight levels is kept as an opaque body, not recursed into', () => {
    let mail = 'Content-Type: text/plain\n\ninnermost';
    for (let i = 0; i < 200; i++) mail = `Content-Type: message/rfc822\n\n${mail}`;
    assert.equal(read('x', Buffer.from(`From: a@b.example\nSubject: hi\n${mail}`)).outcome, 'unparsed');
  });
});
