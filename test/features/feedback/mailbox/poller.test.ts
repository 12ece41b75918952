import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createBounceMailbox, type BounceMailboxDeps } from '../../../../src/features/feedback/mailbox/poller.js';
import type { BounceMailboxSettings } from '../../../../src/features/feedback/mailbox/settings.js';
import type { FeedbackReport, FeedbackSink } from '../../../../src/features/feedback/report.js';
import { FakeClock } from '../../../helpers/clock.js';
import { startImapServer, type ImapTestServer } from '../../../helpers/imap-server.js';
import { closedPort, fixture, reportsIn } from './fixtures.js';

/** A sink that keeps what it is given and, like the real one, counts a report it already has once. */
class MemorySink implements FeedbackSink {
  readonly reports: FeedbackReport[] = [];
  calls = 0;
  failWith: Error | undefined;
  async record(reports: FeedbackReport[]) {
    this.calls += 1;
    if (this.failWith) throw this.failWith;
    let stored = 0;
    for (const r of reports) {
      if (this.reports.some((k) => k.source === r.source && k.reportId === r.reportId)) continue;
      this.reports.push(r);
      stored += 1;
    }
    return { stored, duplicates: reports.length - stored };
  }
}

const warnings: Array<{ obj: object; msg: string | undefined }> = [];
const log = { info() {}, warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) };

describe('bounce mailbox poller against a real IMAP server (Dovecot)', () => {
  let imap: ImapTestServer;
  let sink: MemorySink;
  let folderN = 0;
  let settings: BounceMailboxSettings;

  before(async () => {
    imap = await startImapServer();
  });
  after(async () => {
    await imap?.stop();
  });
  beforeEach(() => {
    sink = new MemorySink();
    warnings.length = 0;
    // Each test reads its own folder, so tests share one server and never see each other's mail.
    folderN += 1;
    settings = {
      host: imap.host,
      port: imap.port,
      secure: false,
      allowPlaintext: false,
      user: imap.user,
      password: imap.password,
      // A nested folder, written with / like every folder setting (Dovecot's Maildir++ delimiter is ".").
      mailbox: `Bounces/In${folderN}`,
      processedFolder: `Gazette${folderN}/Processed`,
      unparsedFolder: `Gazette${folderN}/Unparsed`,
    };
  });

  const mailbox = (over: Partial<BounceMailboxDeps> = {}) =>
    createBounceMailbox({ settings, sink, clock: new FakeClock(), log, verp: { localPart: 'bounces' }, ...over });
  /** A folder setting as Dovecot's Maildir++ names it: levels joined by ".". */
  const onServer = (folder: string) => folder.replaceAll('/', '.');
  const ids = async (folder: string) => (await imap.messages(onServer(folder))).map((m) => m.messageId);

  it('records the reports of every bounce and complaint, then moves each mail; nothing is deleted; a second poll finds nothing', async () => {
    const delivered = ['postfix-hard.eml', 'gmail-hard.eml', 'office365-hard.eml', 'exim-hard.eml', 'arf-yahoo.eml', 'vacation.eml', 'human-reply.eml'];
    for (const name of delivered) await imap.append(onServer(settings.mailbox), fixture(name));
    // Mail someone already read in a mail client is not ours to take.
    await imap.append(onServer(settings.mailbox), fixture('qmail-hard.eml'), ['\\Seen']);
    // Nor is mail marked for deletion.
    await imap.append(onServer(settings.mailbox), fixture('sendmail-headers-only.eml'), ['\\Deleted']);

    const result = await mailbox().pollOnce();
    assert.deepEqual(result, { read: 7, reports: 5, stored: 5, duplicates: 0, processed: 6, ignored: 1, unparsed: 1 });
    assert.deepEqual(
      sink.reports.map((r) => [r.address, r.kind, r.messageRef.messageId]).sort(),
      [
        ['annoyed.reader@yahoo.com', 'complaint', 'a0b1c2d3e4f5061728394a5b6c7d8e9f@news.example.com'],
        ['gone@example.org', 'hard_bounce', '5c3f1a9e0b7d4e21a8c6f0d2e4b6a8c1@news.example.com'],
        ['j.doe@contoso.com', 'hard_bounce', '2b3c4d5e6f708192a3b4c5d6e7f80912@news.example.com'],
        ['no.such.reader@gmail.com', 'hard_bounce', '8d7c6b5a49382716a5b4c3d2e1f00f1e@news.example.com'],
        ['old.reader@example.net', 'hard_bounce', 'c0ffee00112233445566778899aabbcc@news.example.com'],
      ],
    );
    assert.ok(sink.reports.every((r) => r.source === 'mailbox' && r.raw.length > 100), 'each report keeps the mail it came from');

    const folders = await imap.folders();
    const processed = folders.find((f) => /^Gazette\d+.Processed$/.test(f) && f.startsWith(`Gazette${folderN}`))!;
    const unparsed = folders.find((f) => /^Gazette\d+.Unparsed$/.test(f) && f.startsWith(`Gazette${folderN}`))!;
    assert.ok(processed && unparsed, `both folders are created: ${folders.join(', ')}`);
    assert.deepEqual(
      (await ids(processed)).sort(),
      [
        '1796655761.4242.arf@arf.mail.yahoo.com',
        '20261207091403.4F2B01C0A3@mx.news.example.com',
        '675412a4.050a0220.1b2c3d.0001.GMR@mx.google.com',
        'AM6PR0102MB1234.vacation@example.com',
        'E1vKx2a-0004Fp-2Q@smtp.hosting.example',
        'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d@AM0PR01MB1234.eurprd01.prod.exchangelabs.com',
      ],
    );
    assert.deepEqual(await ids(unparsed), ['CAF=reply123@mail.example.com']);
    assert.ok((await imap.messages(processed)).every((m) => m.seen), 'handled mail is marked read');
    assert.deepEqual((await imap.messages(unparsed)).map((m) => m.seen), [false], 'mail for a human stays unread');
    assert.equal(warnings.length, 1, 'the mail moved aside is logged');
    assert.deepEqual(warnings[0]!.obj, { folder: unparsed, messageId: '<CAF=reply123@mail.example.com>', subject: 'Re: Issue 42: winter reading', reason: 'neither a bounce nor a complaint' });
    const left = await imap.messages(onServer(settings.mailbox));
    assert.deepEqual(left.map((m) => [m.subject, m.seen]), [['failure notice', true], ['Returned mail: see transcript for details', false]], 'seen and deleted mail stays where it was');

    assert.deepEqual(await mailbox().pollOnce(), { read: 0, reports: 0, stored: 0, duplicates: 0, processed: 0, ignored: 0, unparsed: 0 });
    assert.equal(sink.calls, 1, 'an empty poll does not call the sink');
  });

  it('when the sink fails, no mail moves and none is marked seen; the next poll stores each report once', async () => {
    await imap.append(onServer(settings.mailbox), fixture('postfix-multi.eml'));
    await imap.append(onServer(settings.mailbox), fixture('sendmail-headers-only.eml'));
    sink.failWith = new Error('database is down');
    await assert.rejects(mailbox().pollOnce(), /Bounce mailbox bounces@127\.0\.0\.1:\d+: reading failed: database is down/);
    assert.deepEqual((await imap.messages(onServer(settings.mailbox))).map((m) => m.seen), [false, false]);

    // As if an earlier run had crashed between the sink's commit and the move: re-reading counts it once.
    sink.failWith = undefined;
    sink.reports.push(reportsIn('sendmail-headers-only.eml')[0]!);
    const result = await mailbox().pollOnce();
    assert.deepEqual(result, { read: 2, reports: 3, stored: 2, duplicates: 1, processed: 2, ignored: 0, unparsed: 0 });
    assert.deepEqual(await imap.messages(onServer(settings.mailbox)), []);
  });

  it('reads at most batchSize mails per poll, oldest first, and moves a mail over the size limit aside unread', async () => {
    await imap.append(onServer(settings.mailbox), fixture('exim-hard.eml'));
    await imap.append(onServer(settings.mailbox), fixture('gmail-hard.eml'));
    await imap.append(onServer(settings.mailbox), fixture('arf-yahoo.eml'));
    const small = mailbox({ batchSize: 2, maxMessageBytes: 4000 });
    // Gmail's bounce is over 4,000 bytes: it goes to the unparsed folder without being downloaded.
    assert.deepEqual(await small.pollOnce(), { read: 2, reports: 1, stored: 1, duplicates: 0, processed: 1, ignored: 0, unparsed: 1 });
    assert.deepEqual(warnings.map((w) => (w.obj as { reason: string }).reason), ['larger than 4000 bytes']);
    assert.deepEqual(await ids(settings.mailbox), ['1796655761.4242.arf@arf.mail.yahoo.com']);
    assert.deepEqual(await small.pollOnce(), { read: 1, reports: 1, stored: 1, duplicates: 0, processed: 1, ignored: 0, unparsed: 0 });
    assert.deepEqual(sink.reports.map((r) => r.address), ['old.reader@example.net', 'annoyed.reader@yahoo.com']);
  });

  it('an unsubscribe request becomes a report about the token\'s subscriber; an unknown token is left for a human', async () => {
    await imap.append(onServer(settings.mailbox), fixture('mailto-unsubscribe.eml'));
    await imap.append(onServer(settings.mailbox), fixture('mailto-unsubscribe.eml').toString('latin1').replace('q1W2e3R4t5', 'XXXXXXXXXX').replace('A7B8C9D0', 'B7B8C9D0'));
    const tokens = new Map([['q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1C', 'sam.reader@example.org']]);
    const result = await mailbox({ subscriberEmail: async (token) => tokens.get(token) }).pollOnce();
    assert.deepEqual(result, { read: 2, reports: 1, stored: 1, duplicates: 0, processed: 1, ignored: 0, unparsed: 1 });
    assert.deepEqual(sink.reports.map((r) => [r.kind, r.address, r.reportId]), [['unsubscribe', 'sam.reader@example.org', 'A7B8C9D0-1E2F-4A5B-8C7D-9E0F1A2B3C4D@example.com']]);
    assert.deepEqual(warnings.map((w) => (w.obj as { reason: string }).reason), ['an unsubscribe request whose token names no subscriber']);
  });

  it('fails with a clear error when the server refuses the login or cannot be reached', async () => {
    await assert.rejects(mailbox({ settings: { ...settings, password: 'wrong' } }).pollOnce(), /bounces@127\.0\.0\.1:\d+: connecting failed: the user name or password was refused/);
    const closed = { ...settings, port: await closedPort() };
    await assert.rejects(mailbox({ settings: closed }).pollOnce(), /connecting failed: ECONNREFUSED/);
    assert.equal(sink.calls, 0);
  });
});
