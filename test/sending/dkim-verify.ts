import { createHash, createPublicKey, verify } from 'node:crypto';

/**
 * An independent DKIM verifier (RFC 6376 relaxed/relaxed, RFC 8463 Ed25519) for the tests, written
 * from the RFC rather than from src/sending/dkim.ts, so a shared misreading cannot pass unnoticed.
 * `mailauth` would do this too, but its current major needs Node 22.
 */

export interface DkimResult {
  ok: boolean;
  reason?: string;
  tags: Record<string, string>;
  signedHeaders: string[];
}

function splitMessage(raw: Buffer): { headerLines: string[]; body: string } {
  const text = raw.toString('latin1');
  const at = text.indexOf('\r\n\r\n');
  const head = at < 0 ? text : text.slice(0, at + 2);
  const body = at < 0 ? '' : text.slice(at + 4);
  // Unfolded header fields, each still holding its CRLF-WSP continuations.
  const fields: string[] = [];
  for (const line of head.split('\r\n')) {
    if (!line) continue;
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += '\r\n' + line;
    else fields.push(line);
  }
  return { headerLines: fields, body };
}

function canonHeader(field: string): string {
  const colon = field.indexOf(':');
  const name = field.slice(0, colon).toLowerCase().replace(/[ \t]+$/, '');
  let value = field.slice(colon + 1).split('\r\n').join('');
  value = value.replace(/[ \t]+/g, ' ').replace(/^ /, '').replace(/ $/, '');
  return `${name}:${value}`;
}

function canonBody(body: string): string {
  const lines = body.split('\r\n');
  // A body ending in CRLF splits into a last empty element that is not a line.
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const out = lines.map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (out.length && out[out.length - 1] === '') out.pop();
  return out.length ? out.join('\r\n') + '\r\n' : '';
}

export function verifyDkim(raw: Buffer, publicKeyPem: string): DkimResult {
  const { headerLines, body } = splitMessage(raw);
  const sigField = headerLines.find((f) => /^dkim-signature:/i.test(f));
  if (!sigField) return { ok: false, reason: 'no DKIM-Signature', tags: {}, signedHeaders: [] };
  const value = sigField.slice(sigField.indexOf(':') + 1);
  const tags: Record<string, string> = {};
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags[part.slice(0, eq).replace(/\s+/g, '')] = part.slice(eq + 1).replace(/\s+/g, '');
  }
  const signedHeaders = (tags.h ?? '').split(':').filter(Boolean);
  if (tags.c !== 'relaxed/relaxed') return { ok: false, reason: `canonicalization ${tags.c}`, tags, signedHeaders };

  const bh = createHash('sha256').update(canonBody(body), 'latin1').digest('base64');
  if (bh !== tags.bh) return { ok: false, reason: 'body hash mismatch', tags, signedHeaders };

  // Header fields are taken bottom-up, one instance per listed name.
  const used = new Set<number>();
  let data = '';
  for (const name of signedHeaders) {
    for (let i = headerLines.length - 1; i >= 0; i--) {
      if (used.has(i)) continue;
      const f = headerLines[i]!;
      if (f.slice(0, f.indexOf(':')).trim().toLowerCase() === name.toLowerCase()) {
        used.add(i);
        data += canonHeader(f) + '\r\n';
        break;
      }
    }
  }
  const withoutB = sigField.replace(/(;[ \t\r\n]*b=)[^;]*/, '$1');
  data += canonHeader(withoutB);
  const signature = Buffer.from(tags.b ?? '', 'base64');
  const key = createPublicKey(publicKeyPem);
  const ok =
    tags.a === 'rsa-sha256'
      ? verify('sha256', Buffer.from(data, 'latin1'), key, signature)
      : tags.a === 'ed25519-sha256'
        ? verify(null, createHash('sha256').update(data, 'latin1').digest(), key, signature)
        : false;
  return ok ? { ok, tags, signedHeaders } : { ok, reason: 'signature does not verify', tags, signedHeaders };
}
