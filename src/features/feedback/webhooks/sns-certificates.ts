import { X509Certificate } from 'node:crypto';
import https from 'node:https';

/**
 * Where Amazon SNS signing certificates and subscription confirmations may come from, per region of the
 * configured topics. Tests replace it (a certificate served over HTTPS on 127.0.0.1, trusted through `ca`);
 * production never does.
 */
export interface SnsTrust {
  certificateUrl(url: URL, regions: ReadonlySet<string>): boolean;
  subscribeUrl(url: URL, regions: ReadonlySet<string>): boolean;
  /** Extra CA certificates (PEM) for those requests. */
  ca?: string;
}

const SNS_HOST = /^sns\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

function snsHostIn(url: URL, regions: ReadonlySet<string>): boolean {
  const region = SNS_HOST.exec(url.hostname)?.[1];
  return url.protocol === 'https:' && url.port === '' && region !== undefined && regions.has(region);
}

export const AMAZON_SNS: SnsTrust = {
  certificateUrl: (url, regions) => snsHostIn(url, regions) && /^\/SimpleNotificationService-[a-z0-9]+\.pem$/.test(url.pathname),
  subscribeUrl: (url, regions) => snsHostIn(url, regions) && url.searchParams.get('Action') === 'ConfirmSubscription',
};

const TIMEOUT_MS = 5000;
const MAX_BYTES = 64 * 1024;

/** A GET over HTTPS with a deadline and a size cap; resolves with the status and body. */
export function httpsGet(url: URL, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { timeout: TIMEOUT_MS, ...(ca ? { ca } : {}), headers: { 'user-agent': 'Gazette' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) {
          req.destroy(new Error('response too large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Fetches signing certificates once per URL (SNS rotates them rarely, and never reuses a URL). */
export function createCertificateCache(trust: SnsTrust) {
  const cache = new Map<string, Promise<X509Certificate>>();
  return (url: URL): Promise<X509Certificate> => {
    const key = url.toString();
    let cert = cache.get(key);
    if (!cert) {
      cert = httpsGet(url, trust.ca).then(({ status, body }) => {
        if (status !== 200) throw new Error(`certificate answered ${status}`);
        return new X509Certificate(body);
      });
      // A failed fetch is not remembered: the next notification tries again.
      cert.catch(() => cache.delete(key));
      if (cache.size > 100) cache.delete(cache.keys().next().value!);
      cache.set(key, cert);
    }
    return cert;
  };
}
