import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config.js';
import { configProblems } from '../../helpers/config.js';

const base = { BASE_URL: 'https://news.example.com', LOG_LEVEL: 'silent' };

const problems = (env: Record<string, string>) => configProblems({ ...base, ...env }).map((p) => p.variable);

describe('bounce webhook settings', () => {
  it('are all off by default', () => {
    const c = loadConfig(base).bounceWebhooks;
    assert.deepEqual(c, { sesTopicArns: [], postmarkSecret: undefined, mailgunSigningKey: undefined, sendgridPublicKey: undefined, brevoSecret: undefined, resendSecret: undefined, ratePerSecond: 2000 });
  });

  it('reads topics, secrets and the SendGrid key (base64 or PEM)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const der = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const c = loadConfig({
      ...base,
      BOUNCE_SES_TOPIC_ARNS: 'arn:aws:sns:eu-west-1:123456789012:bounces, arn:aws:sns:us-east-1:123456789012:complaints',
      BOUNCE_SENDGRID_PUBLIC_KEY: der,
      BOUNCE_RESEND_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      BOUNCE_WEBHOOK_RATE_LIMIT: '50',
    }).bounceWebhooks;
    assert.deepEqual(c.sesTopicArns, ['arn:aws:sns:eu-west-1:123456789012:bounces', 'arn:aws:sns:us-east-1:123456789012:complaints']);
    assert.equal(c.sendgridPublicKey, pem);
    assert.equal(c.ratePerSecond, 50);
    assert.equal(loadConfig({ ...base, BOUNCE_SENDGRID_PUBLIC_KEY: pem.replace(/\n/g, '\\n') }).bounceWebhooks.sendgridPublicKey, pem);
  });

  it('names every bad variable', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    assert.deepEqual(
      problems({
        BOUNCE_SES_TOPIC_ARNS: 'arn:aws:sqs:eu-west-1:123:queue',
        BOUNCE_POSTMARK_SECRET: 'short',
        BOUNCE_BREVO_SECRET: 'short',
        BOUNCE_RESEND_SECRET: 'not-a-svix-secret',
        BOUNCE_SENDGRID_PUBLIC_KEY: rsa,
        BOUNCE_WEBHOOK_RATE_LIMIT: '0',
      }).sort(),
      ['BOUNCE_BREVO_SECRET', 'BOUNCE_POSTMARK_SECRET', 'BOUNCE_RESEND_SECRET', 'BOUNCE_SENDGRID_PUBLIC_KEY', 'BOUNCE_SES_TOPIC_ARNS', 'BOUNCE_WEBHOOK_RATE_LIMIT'],
    );
  });
});
