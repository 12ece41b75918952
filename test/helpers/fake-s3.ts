import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An S3-compatible store on loopback (path-style: /bucket/key) that checks AWS Signature Version 4 the
 * way S3 does, with its own implementation: the canonical request rebuilt from what arrived, the payload
 * hash compared with the body, the date within 15 minutes. A request that fails any check gets S3's 403.
 */
export interface FakeS3 {
  url: string;
  objects: Map<string, { body: Buffer; contentType: string }>;
  /** Every request, with the answer it got. */
  log: Array<{ method: string; path: string; status: number; code?: string }>;
  close(): Promise<void>;
}

const hex = (d: Buffer | string) => createHash('sha256').update(d).digest('hex');
const mac = (k: Buffer | string, d: string) => createHmac('sha256', k).update(d).digest();

function expectedAuthorization(req: http.IncomingMessage, secret: string, region: string): { header: string; problem?: string } {
  const auth = req.headers.authorization ?? '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { header: '', problem: 'AuthorizationHeaderMalformed' };
  const [, keyId, day, reqRegion, signed] = m as unknown as [string, string, string, string, string];
  if (reqRegion !== region) return { header: '', problem: 'AuthorizationHeaderMalformed' };
  const names = signed.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date') || !names.includes('x-amz-content-sha256')) return { header: '', problem: 'AccessDenied' };
  const headerLines = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim()}\n`).join('');
  const amzDate = String(req.headers['x-amz-date']);
  const canonical = [req.method, req.url!.split('?')[0], '', headerLines, signed, String(req.headers['x-amz-content-sha256'])].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, `${day}/${region}/s3/aws4_request`, hex(canonical)].join('\n');
  const key = mac(mac(mac(mac(`AWS4${secret}`, day), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { header: `AWS4-HMAC-SHA256 Credential=${keyId}/${day}/${region}/s3/aws4_request, SignedHeaders=${signed}, Signature=${signature}` };
}

export async function startFakeS3(opts: { bucket: string; accessKeyId: string; secretAccessKey: string; region: string }): Promise<FakeS3> {
  const objects = new Map<string, { body: Buffer; contentType: string }>();
  const log: FakeS3['log'] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const path = decodeURIComponent(req.url!.split('?')[0]!);
    const answer = (status: number, code?: string, payload: Buffer | string = '', headers: Record<string, string> = {}) => {
      log.push({ method: req.method!, path, status, ...(code ? { code } : {}) });
      const xml = code ? `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code></Error>` : payload;
      res.writeHead(status, headers).end(xml);
    };
    const expected = expectedAuthorization(req, opts.secretAccessKey, opts.region);
    if (expected.problem) return answer(403, expected.problem);
    if (!String(req.headers.authorization).startsWith(`AWS4-HMAC-SHA256 Credential=${opts.accessKeyId}/`)) return answer(403, 'InvalidAccessKeyId');
    if (req.headers.authorization !== expected.header) return answer(403, 'SignatureDoesNotMatch');
    if (req.headers['x-amz-content-sha256'] !== hex(body)) return answer(400, 'XAmzContentSHA256Mismatch');
    const at = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(req.headers['x-amz-date']));
    const when = at ? Date.UTC(+at[1]!, +at[2]! - 1, +at[3]!, +at[4]!, +at[5]!, +at[6]!) : NaN;
    if (!(Math.abs(Date.now() - when) < 15 * 60_000)) return answer(403, 'RequestTimeTooSkewed');
    const prefix = `/${opts.bucket}/`;
    if (!path.startsWith(prefix)) return answer(404, 'NoSuchBucket');
    const key = path.slice(prefix.length);
    if (req.method === 'PUT') {
      objects.set(key, { body, contentType: String(req.headers['content-type'] ?? 'application/octet-stream') });
      return answer(200);
    }
    const found = objects.get(key);
    if (req.method === 'GET') return found ? answer(200, undefined, found.body, { 'content-type': found.contentType }) : answer(404, 'NoSuchKey');
    if (req.method === 'DELETE') {
      objects.delete(key);
      return answer(204);
    }
    return answer(405, 'MethodNotAllowed');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    objects,
    log,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
