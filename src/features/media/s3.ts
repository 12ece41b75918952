import { createHash, createHmac } from 'node:crypto';
import type { MediaStorage } from './storage.js';

/**
 * A small S3 client for the few calls image storage needs (PUT, GET, DELETE of one object), signed with
 * AWS Signature Version 4 as S3 and the S3-compatible stores (MinIO, Cloudflare R2, Backblaze B2, Garage)
 * accept it. Path-style addressing (endpoint/bucket/key) works with all of them, and bucket names with
 * dots, without DNS for each bucket.
 */

export interface S3Settings {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const TIMEOUT_MS = 15_000;

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding of one path segment, as SigV4 wants it (S3 does not encode twice). */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export interface SignInput {
  method: string;
  /** The path as sent, already encoded. */
  path: string;
  /** Every header to sign, names in any case; must include host. */
  headers: Record<string, string>;
  payloadHash: string;
  /** YYYYMMDDTHHMMSSZ */
  amzDate: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The Authorization header value for a request without a query string. */
export function signatureV4(input: SignInput): string {
  const names = Object.keys(input.headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]));
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [input.method, input.path, '', canonicalHeaders, signedHeaders, input.payloadHash].join('\n');
  const day = input.amzDate.slice(0, 8);
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', input.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, day), input.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

export function s3Storage(settings: S3Settings, now: () => number = Date.now): MediaStorage {
  const base = new URL(settings.endpoint);
  const prefix = base.pathname.replace(/\/+$/, '');

  async function request(method: 'GET' | 'PUT' | 'DELETE', key: string, body?: Buffer, contentType?: string): Promise<Response> {
    const path = `${prefix}/${encodeSegment(settings.bucket)}/${key.split('/').map(encodeSegment).join('/')}`;
    const amzDate = new Date(now()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const payloadHash = body ? sha256Hex(body) : EMPTY_SHA256;
    const headers: Record<string, string> = { host: base.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate, ...(contentType ? { 'content-type': contentType } : {}) };
    const authorization = signatureV4({ method, path, headers, payloadHash, amzDate, region: settings.region, accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey });
    const { host: _host, ...sent } = headers;
    return fetch(new URL(path, base), { method, headers: { ...sent, authorization }, ...(body ? { body } : {}), signal: AbortSignal.timeout(TIMEOUT_MS) });
  }

  async function failure(res: Response, what: string): Promise<Error> {
    const detail = (await res.text().catch(() => '')).slice(0, 300);
    const code = /<Code>([^<]+)<\/Code>/.exec(detail)?.[1];
    return new Error(`the media bucket refused to ${what}: HTTP ${res.status}${code ? ` ${code}` : ''}`);
  }

  return {
    async put(key, bytes, contentType) {
      const res = await request('PUT', key, bytes, contentType);
      if (!res.ok) throw await failure(res, `store ${key}`);
      await res.arrayBuffer();
    },
    async get(key) {
      const res = await request('GET', key);
      if (res.status === 404) {
        await res.arrayBuffer();
        return undefined;
      }
      if (!res.ok) throw await failure(res, `read ${key}`);
      return Buffer.from(await res.arrayBuffer());
    },
    async remove(key) {
      const res = await request('DELETE', key);
      if (!res.ok && res.status !== 404) throw await failure(res, `delete ${key}`);
      await res.arrayBuffer();
    },
  };
}
