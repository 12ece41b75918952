import { execFileSync } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import type { SnsTrust } from '../../../src/features/feedback/webhooks/sns-certificates.js';

/**
 * The relays' side of the webhooks, signing as each relay signs, with keys made here: Amazon SNS (an RSA
 * certificate served over HTTPS on loopback, which also answers subscription confirmations), SendGrid
 * (ECDSA P-256), Mailgun (HMAC key), Resend (Svix / Standard Webhooks secret, signed by the
 * `standardwebhooks` library), Postmark and Brevo (shared secrets).
 */

export const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:ses-bounces';
export const POSTMARK_SECRET = 'pm-hooks:a-long-postmark-password';
export const BREVO_TOKEN = 'brevo-token-0123456789abcdef';
export const MAILGUN_KEY = `key-${randomBytes(16).toString('hex')}`;
export const RESEND_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const sendgridKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });

export function relayEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    BOUNCE_SES_TOPIC_ARNS: TOPIC_ARN,
    BOUNCE_POSTMARK_SECRET: POSTMARK_SECRET,
    BOUNCE_BREVO_SECRET: BREVO_TOKEN,
    BOUNCE_MAILGUN_SIGNING_KEY: MAILGUN_KEY,
    BOUNCE_RESEND_SECRET: RESEND_SECRET,
    BOUNCE_SENDGRID_PUBLIC_KEY: sendgridKeys.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    ...extra,
  };
}

export interface Call {
  url: string;
  headers: Record<string, string>;
  payload: string;
}

const json = { 'content-type': 'application/json' };
const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

// ---- Amazon SNS ----

export interface FakeSns {
  trust: SnsTrust;
  certUrl: string;
  /** SubscribeURL requests the server answered. */
  confirmations: string[];
  close(): Promise<void>;
  sign(message: Record<string, string>, version?: '1' | '2'): Record<string, string>;
}

export async function startFakeSns(): Promise<FakeSns> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gazette-sns-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const key = readFileSync(path.join(dir, 'key.pem'), 'utf8');
  const cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const confirmations: string[] = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    if (req.url === '/SimpleNotificationService-test.pem') return void res.end(cert);
    if (req.url?.startsWith('/confirm?')) {
      confirmations.push(req.url);
      return void res.end('<ConfirmSubscriptionResponse/>');
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ours = (url: URL) => url.origin === origin;
  return {
    trust: {
      certificateUrl: (url) => ours(url) && url.pathname.startsWith('/SimpleNotificationService-'),
      subscribeUrl: (url) => ours(url) && url.searchParams.get('Action') === 'ConfirmSubscription',
      ca: cert,
    },
    certUrl: `${origin}/SimpleNotificationService-test.pem`,
    confirmations,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    sign(message, version = '1') {
      const m: Record<string, string> = { SignatureVersion: version, SigningCertURL: `${origin}/SimpleNotificationService-test.pem`, ...message };
      const keys =
        m.Type === 'Notification'
          ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
          : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
      const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
      signer.update(keys.map((k) => `${k}\n${m[k]}\n`).join(''));
      return { ...m, Signature: signer.sign(key, 'base64') };
    },
  };
}

/** An SNS notification carrying an SES event, signed by `sns`. */
export function sesCall(sns: FakeSns, event: Record<string, unknown>, opts: { version?: '1' | '2'; id?: string; topic?: string } = {}): Call {
  const message = sns.sign(
    { Type: 'Notification', MessageId: opts.id ?? randomBytes(8).toString('hex'), TopicArn: opts.topic ?? TOPIC_ARN, Message: JSON.stringify(event), Timestamp: '2026-11-22T12:00:00.000Z' },
    opts.version,
  );
  // SNS posts JSON with a text/plain content type.
  return { url: '/webhooks/bounces/ses', headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' }, payload: JSON.stringify(message) };
}

export function sesBounce(address: string, relayId: string, type: 'Permanent' | 'Transient' = 'Permanent'): Record<string, unknown> {
  return {
    notificationType: 'Bounce',
    bounce: {
      bounceType: type,
      bounceSubType: type === 'Permanent' ? 'General' : 'MailboxFull',
      feedbackId: `fb-${randomBytes(6).toString('hex')}`,
      timestamp: '2026-11-22T12:00:00.000Z',
      bouncedRecipients: [{ emailAddress: address, action: 'failed', status: type === 'Permanent' ? '5.1.1' : '4.2.2', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
    },
    mail: { messageId: relayId, timestamp: '2026-11-22T11:59:00.000Z', destination: [address] },
  };
}

// ---- the others ----

export function postmarkCall(address: string, relayId: string, auth = POSTMARK_SECRET, type = 'HardBounce'): Call {
  const body = { RecordType: 'Bounce', ID: Math.floor(Math.random() * 1e9), Type: type, TypeCode: 1, MessageID: relayId, Email: address, BouncedAt: '2026-11-22T12:00:00Z', Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist.', Inactive: true };
  return { url: '/webhooks/bounces/postmark', headers: { ...json, authorization: basic(auth) }, payload: JSON.stringify(body) };
}

export function brevoCall(address: string, messageId: string, token = BREVO_TOKEN, event = 'spam'): Call {
  const body = { event, email: address, id: 4242, date: '2026-11-22 13:00:00', ts: 1795521600, 'message-id': messageId, ts_event: 1795521600, subject: 'Post', reason: event === 'spam' ? undefined : '550 5.1.1 mailbox unavailable' };
  return { url: '/webhooks/bounces/brevo', headers: { ...json, authorization: `Bearer ${token}` }, payload: JSON.stringify(body) };
}

export function mailgunCall(address: string, messageId: string, nowMs: number, opts: { key?: string; token?: string; event?: Record<string, unknown> } = {}): Call {
  const timestamp = String(Math.floor(nowMs / 1000));
  const token = opts.token ?? randomBytes(25).toString('hex');
  const signature = createHmac('sha256', opts.key ?? MAILGUN_KEY).update(timestamp + token).digest('hex');
  const event = opts.event ?? {
    id: randomBytes(8).toString('hex'),
    event: 'failed',
    severity: 'permanent',
    recipient: address,
    timestamp: nowMs / 1000,
    reason: 'bounce',
    'delivery-status': { code: 550, message: '5.1.1 The email account does not exist', 'enhanced-code': '5.1.1' },
    message: { headers: { 'message-id': messageId.replace(/^<|>$/g, '') } },
  };
  return { url: '/webhooks/bounces/mailgun', headers: json, payload: JSON.stringify({ signature: { timestamp, token, signature }, 'event-data': event }) };
}

export function sendgridCall(events: Array<Record<string, unknown>>, nowMs: number, key: KeyObject = sendgridKeys.privateKey): Call {
  const payload = JSON.stringify(events);
  const timestamp = String(Math.floor(nowMs / 1000));
  const signature = sign('sha256', Buffer.from(timestamp + payload), key).toString('base64');
  return {
    url: '/webhooks/bounces/sendgrid',
    headers: { ...json, 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp },
    payload,
  };
}

export function sendgridEvent(address: string, messageId: string, relayId: string, event = 'spamreport'): Record<string, unknown> {
  return { email: address, timestamp: 1795521600, event, sg_event_id: randomBytes(10).toString('base64url'), sg_message_id: `${relayId}.filterdrecv-5bb4f8c8-abcde-1-0`, 'smtp-id': messageId };
}

export function resendCall(address: string, emailId: string, nowMs: number, opts: { secret?: string; id?: string; type?: string } = {}): Call {
  const id = opts.id ?? `msg_${randomBytes(10).toString('hex')}`;
  const payload = JSON.stringify({
    type: opts.type ?? 'email.bounced',
    created_at: new Date(nowMs).toISOString(),
    data: { email_id: emailId, to: [address], subject: 'Post', bounce: { type: 'Permanent', subType: 'Suppressed', message: 'The recipient is on the suppression list (5.1.1).' } },
  });
  const signature = new Webhook(opts.secret ?? RESEND_SECRET).sign(id, new Date(nowMs), payload);
  return { url: '/webhooks/bounces/resend', headers: { ...json, 'svix-id': id, 'svix-timestamp': String(Math.floor(nowMs / 1000)), 'svix-signature': signature }, payload };
}

export const otherSendgridKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
