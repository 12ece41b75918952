import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { outgoingAddressPolicy, type AddressPolicy } from '../../src/lib/safe-fetch/address-policy.js';
import { createSafeFetch, SafeFetchError, type HostResolver, type SafeFetchErrorCode } from '../../src/lib/safe-fetch/safe-fetch.js';
import { BIG_BODY_BYTES, selfSignedCertificate, startHttpsTarget, startHttpTarget, type TargetServer } from '../links/target-servers.js';

const UA = 'GazetteTest/1 (+http://gazette.test)';

/** Fails unless `work` rejects with a SafeFetchError of `code`; returns it. */
async function refused(work: Promise<unknown>, code: SafeFetchErrorCode): Promise<SafeFetchError> {
  const err = await work.then(
    () => assert.fail(`expected ${code}, got a response`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SafeFetchError, `not a SafeFetchError: ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

/** A resolver answering from a table; unknown names do not exist. Counts its calls per name. */
function tableResolver(table: Record<string, string[] | (() => string[])>): HostResolver & { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const resolve = async (host: string) => {
    calls.set(host, (calls.get(host) ?? 0) + 1);
    const answer = table[host];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return typeof answer === 'function' ? answer() : answer;
  };
  return Object.assign(resolve, { calls });
}

/** Only 127.0.0.1 is "public" here: loopback stands in for the internet, 127.0.0.2 for the private network. */
const onlyFirstLoopback: AddressPolicy = { refuse: (a) => (a === '127.0.0.1' ? undefined : 'off limits in this test') };

describe('address policy', () => {
  const strict = outgoingAddressPolicy();
  const intranet = outgoingAddressPolicy({ allowPrivate: true });

  it('refuses private, loopback, link-local, CGNAT, multicast, unspecified, reserved and metadata addresses, v4-mapped too', () => {
    for (const address of [
      '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '169.254.1.1',
      '169.254.169.254', '0.0.0.0', '224.0.0.1', '255.255.255.255', '240.0.0.1', '192.0.2.1',
      '::1', '::', 'fc00::1', 'fd00:ec2::254', 'fe80::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254',
      '2001:db8::1', '64:ff9b::a00:1', '64:ff9b::7f00:1', '2002:a00:1::', '2001::1', '::127.0.0.1', '::ffff:0:7f00:1', 'fec0::1',
    ]) {
      assert.ok(strict.refuse(address), `${address} should be refused`);
    }
  });

  it('allows public unicast addresses', () => {
    for (const address of ['8.8.8.8', '93.184.216.34', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      assert.equal(strict.refuse(address), undefined, address);
    }
  });

  it('with private ranges allowed, still refuses metadata, unspecified and multicast addresses', () => {
    for (const address of ['10.0.0.1', '192.168.0.10', '127.0.0.1', '::1', 'fd12::1', '100.64.1.1']) assert.equal(intranet.refuse(address), undefined, address);
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '::ffff:169.254.169.254', '0.0.0.0', '224.0.0.1', '::']) {
      assert.ok(intranet.refuse(address), `${address} should still be refused`);
    }
  });
});

describe('safe fetch: refusals that never connect', () => {
  let target: TargetServer;
  before(async () => (target = await startHttpTarget()));
  after(() => target.close());

  it('refuses loopback, private and metadata targets however they are spelled', async () => {
    const fetch = createSafeFetch({ userAgent: UA, resolve: tableResolver({}) });
    const port = target.port;
    for (const url of [
      `http://127.0.0.1:${port}/ok`, `http://2130706433:${port}/ok`, `http://0x7f000001:${port}/ok`, `http://[::ffff:7f00:1]:${port}/ok`,
      `http://[::1]:${port}/ok`, 'http://0.0.0.0/', 'http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://10.0.0.1/', 'http://100.64.0.1/',
    ]) {
      await refused(fetch(url), 'unsafe-address');
    }
    assert.equal(target.requests.length, 0, 'nothing reached the server');
  });

  it('refuses other schemes and credentials in the URL', async () => {
    const fetch = createSafeFetch({ userAgent: UA, resolve: tableResolver({}), policy: onlyFirstLoopback });
    for (const url of ['ftp://127.0.0.1/', 'file:///etc/passwd', 'gopher://127.0.0.1:70/', `http://user:secret@127.0.0.1:${target.port}/ok`, `http://user@127.0.0.1:${target.port}/ok`]) {
      await refused(fetch(url), 'unsafe-url');
    }
    await refused(fetch('not a url'), 'invalid-url');
    assert.equal(target.requests.length, 0);
  });

  it('refuses a host when any of its answers is private, and reports a domain that does not exist', async () => {
    const resolve = tableResolver({ 'metadata.google.internal': ['169.254.169.254'], 'mixed.test': ['93.184.216.34', '10.0.0.1'], 'inside.test': ['::ffff:127.0.0.1'] });
    const fetch = createSafeFetch({ userAgent: UA, resolve });
    const metadata = await refused(fetch('http://metadata.google.internal/computeMetadata/v1/'), 'unsafe-address');
    assert.match(metadata.message, /metadata/);
    await refused(fetch('http://mixed.test/'), 'unsafe-address');
    await refused(fetch(`http://inside.test:${target.port}/ok`), 'unsafe-address');
    await refused(fetch('https://nowhere.test/'), 'dns-not-found');
    assert.equal(target.requests.length, 0);
  });
});

describe('safe fetch: pinning, redirects, limits', () => {
  let first: TargetServer;
  let second: TargetServer;
  before(async () => {
    // Two servers on one port: 127.0.0.1 is "the internet", 127.0.0.2 "the private network".
    first = await startHttpTarget({ host: '127.0.0.1', otherOrigin: () => `http://127.0.0.2:${first.port}` });
    second = await startHttpTarget({ host: '127.0.0.2', port: first.port });
  });
  after(async () => {
    await first.close();
    await second.close();
  });

  it('connects to the address it checked, even when DNS answers differently a moment later (rebinding)', async () => {
    let answers = 0;
    const resolve = tableResolver({ 'rebind.test': () => (answers++ === 0 ? ['127.0.0.1'] : ['127.0.0.2']) });
    const fetch = createSafeFetch({ userAgent: UA, resolve, policy: onlyFirstLoopback });
    const before = { first: first.requests.length, second: second.requests.length };
    const res = await fetch(`http://rebind.test:${first.port}/ok`);
    assert.equal(res.status, 200);
    assert.equal(res.address, '127.0.0.1');
    assert.equal(resolve.calls.get('rebind.test'), 1, 'one lookup per hop: the socket never asks DNS itself');
    assert.equal(first.requests.length, before.first + 1);
    assert.equal(first.requests.at(-1)!.localAddress, '127.0.0.1');
    assert.equal(first.requests.at(-1)!.userAgent, UA);
    assert.equal(second.requests.length, before.second, 'the rebound address was never contacted');
    // The next fetch looks up again, gets the second answer, and refuses it.
    await refused(fetch(`http://rebind.test:${first.port}/ok`), 'unsafe-address');
    assert.equal(second.requests.length, before.second);
  });

  it('checks every redirect hop: a public page redirecting inside is refused', async () => {
    const fetch = createSafeFetch({ userAgent: UA, resolve: tableResolver({}), policy: onlyFirstLoopback });
    const err = await refused(fetch(`http://127.0.0.1:${first.port}/to-other`), 'unsafe-address');
    assert.deepEqual(err.redirects.map((h) => h.status), [302]);
    assert.equal(second.requests.length, 0);
    await refused(fetch(`http://127.0.0.1:${first.port}/to-metadata`), 'unsafe-address');
  });

  it('follows a redirect chain by hand, and stops at loops and at the hop limit', async () => {
    const fetch = createSafeFetch({ userAgent: UA, resolve: tableResolver({}), policy: onlyFirstLoopback, maxRedirects: 5 });
    const res = await fetch(`http://127.0.0.1:${first.port}/chain/3`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.url, `http://127.0.0.1:${first.port}/final`);
    assert.deepEqual(res.redirects.map((h) => [new URL(h.url).pathname, h.status]), [['/chain/3', 301], ['/chain/2', 301], ['/chain/1', 301]]);
    await refused(fetch(`http://127.0.0.1:${first.port}/loop-a`), 'redirect-loop');
    const tooMany = await refused(fetch(`http://127.0.0.1:${first.port}/forever/1`), 'too-many-redirects');
    assert.equal(tooMany.redirects.length, 6);
    const manual = await fetch(`http://127.0.0.1:${first.port}/moved`, { followRedirects: false });
    assert.equal(manual.status, 301);
  });

  it('reads no more than the cap of a big body and lets the rest go', async () => {
    const fetch = createSafeFetch({ userAgent: UA, resolve: tableResolver({}), policy: onlyFirstLoopback, maxBodyBytes: 1024 });
    const res = await fetch(`http://127.0.0.1:${first.port}/big`);
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 1024);
    assert.equal(res.truncated, true);
    const written = await first.bigBodyClosed();
    assert.ok(written < BIG_BODY_BYTES, `the server stopped early (${written} of ${BIG_BODY_BYTES} bytes written)`);
  });

  it('gives up on a server that never answers', async () => {
    const fetch = createSafeFetch({ userAgent: UA, resolve: tableResolver({}), policy: onlyFirstLoopback, timeoutMs: 150 });
    await refused(fetch(`http://127.0.0.1:${first.port}/slow`), 'timeout');
  });
});

describe('safe fetch over TLS', () => {
  const certificate = selfSignedCertificate(['secure.test']);
  let target: TargetServer;
  before(async () => (target = await startHttpsTarget(certificate)));
  after(() => target.close());

  const resolve = tableResolver({ 'secure.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] });

  it('verifies the certificate against the host name while connecting to the pinned address', async () => {
    const trusting = createSafeFetch({ userAgent: UA, resolve, policy: onlyFirstLoopback, ca: [certificate.cert] });
    const res = await trusting(`https://secure.test:${target.port}/ok`);
    assert.equal(res.status, 200);
    assert.equal(res.address, '127.0.0.1');
    // Same address, other name: the certificate does not cover it.
    await refused(trusting(`https://other.test:${target.port}/ok`), 'tls');
  });

  it('reports a certificate it cannot trust', async () => {
    const strict = createSafeFetch({ userAgent: UA, resolve, policy: onlyFirstLoopback });
    const err = await refused(strict(`https://secure.test:${target.port}/ok`), 'tls');
    assert.match(err.message, /certificate/);
  });
});
