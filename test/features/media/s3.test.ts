import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError } from '../../../src/config.js';
import { signatureV4 } from '../../../src/features/media/s3.js';
import { buildTestApp, setupOwner, testConfig, type Agent, type TestApp } from '../../helpers/app.js';
import { DIALECTS } from '../../helpers/db.js';
import { startFakeS3, type FakeS3 } from '../../helpers/fake-s3.js';
import { noiseImage, uploadImage } from './images.js';

const KEYS = { bucket: 'gazette-media', accessKeyId: 'AKIDGAZETTETEST', secretAccessKey: 'test/secret+key=with/odd+chars', region: 'eu-west-3' };
const dataDirs: string[] = [];
after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe('SigV4 signing', () => {
  it('matches the GET Object example of the AWS documentation', () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    const header = signatureV4({
      method: 'GET',
      path: '/test.txt',
      headers: { Host: 'examplebucket.s3.amazonaws.com', Range: 'bytes=0-9', 'x-amz-content-sha256': empty, 'x-amz-date': '20130524T000000Z' },
      payloadHash: empty,
      amzDate: '20130524T000000Z',
      region: 'us-east-1',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    });
    assert.equal(
      header,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('refuses a partial bucket configuration, naming each missing variable', () => {
    assert.throws(
      () => testConfig({ MEDIA_S3_ENDPOINT: 'https://s3.example.com', MEDIA_S3_BUCKET: 'pics' }),
      (err: unknown) => err instanceof ConfigError && /MEDIA_S3_ACCESS_KEY_ID/.test(err.message) && /MEDIA_S3_SECRET_ACCESS_KEY/.test(err.message),
    );
    assert.throws(() => testConfig({ ...env('ftp://x'), MEDIA_S3_BUCKET: 'Bad_Bucket' }), /MEDIA_S3_ENDPOINT[\s\S]*MEDIA_S3_BUCKET|MEDIA_S3_BUCKET[\s\S]*MEDIA_S3_ENDPOINT/);
  });
});

function env(endpoint: string, secret = KEYS.secretAccessKey): Record<string, string> {
  return { MEDIA_S3_ENDPOINT: endpoint, MEDIA_S3_BUCKET: KEYS.bucket, MEDIA_S3_ACCESS_KEY_ID: KEYS.accessKeyId, MEDIA_S3_SECRET_ACCESS_KEY: secret, MEDIA_S3_REGION: KEYS.region };
}

for (const dialect of DIALECTS) {
  describe(`images in an S3 bucket (${dialect})`, () => {
    let s3: FakeS3;
    let t: TestApp;
    let agent: Agent;
    let dataDir: string;
    const start = async (secret?: string) => {
      t = await buildTestApp(dialect, { env: { DATA_DIR: dataDir, ...env(s3.url, secret) } });
      agent = await setupOwner(t);
    };
    beforeEach(async () => {
      s3 = await startFakeS3(KEYS);
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-s3-'));
      dataDirs.push(dataDir);
    });
    afterEach(async () => {
      await t.close();
      await s3.close();
    });

    it('stores every file in the bucket with a valid signature and serves it from there', async () => {
      await start();
      const res = await uploadImage(agent, { alt: 'Bridge' }, { filename: 'b.jpg', content: await noiseImage(1400, 700, 'jpeg') });
      assert.equal(res.statusCode, 201, res.body);
      const files = (res.json() as { files: Array<{ url: string; bytes: number }> }).files;
      assert.equal(files.length, 3);
      assert.deepEqual([...s3.objects.keys()].sort(), files.map((f) => f.url.split('/').pop()!).sort());
      assert.ok(s3.log.every((r) => r.status < 300), JSON.stringify(s3.log));
      assert.deepEqual([...new Set([...s3.objects.values()].map((o) => o.contentType))], ['image/jpeg']);
      assert.deepEqual(readdirSync(dataDir).filter((f) => f === 'media'), [], 'nothing under DATA_DIR/media');

      const served = await agent.get(new URL(files[1]!.url).pathname);
      assert.equal(served.statusCode, 200);
      assert.equal(served.headers['content-type'], 'image/jpeg');
      assert.equal(served.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.ok(served.rawPayload.equals(s3.objects.get(files[1]!.url.split('/').pop()!)!.body));
      assert.ok(s3.log.some((r) => r.method === 'GET' && r.status === 200));

      const settings = await agent.get('/admin/settings');
      assert.ok(settings.body.includes(`bucket ${KEYS.bucket} at ${s3.url} (${KEYS.region})`), 'the settings page says where images go');
      assert.ok(!settings.body.includes(KEYS.secretAccessKey) && !settings.body.includes(KEYS.accessKeyId), 'and shows neither key');

      const refused = await uploadImage(agent, { alt: 'x' }, { filename: 'x.png', content: Buffer.from('<svg><script>1</script></svg>') });
      assert.equal(refused.statusCode, 415);
      assert.equal(s3.objects.size, 3, 'a refused upload puts nothing in the bucket');
    });

    it('stores no row when the bucket refuses the signature (a wrong secret)', async () => {
      await start('not-the-right-secret');
      const res = await uploadImage(agent, { alt: 'Bridge' }, { filename: 'b.png', content: await noiseImage(300, 200, 'png') });
      assert.equal(res.statusCode, 500);
      assert.doesNotMatch(res.body, /not-the-right-secret|SignatureDoesNotMatch/, 'no detail leaks to the page');
      assert.deepEqual(s3.log.map((r) => r.code), ['SignatureDoesNotMatch']);
      assert.equal((await t.db.db.selectFrom('media').selectAll().execute()).length, 0);
      assert.equal(s3.objects.size, 0);
    });
  });
}
