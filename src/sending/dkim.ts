import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';

/**
 * DKIM signing (RFC 6376, relaxed/relaxed; RFC 8463 for Ed25519 keys) of messages we built ourselves.
 * Pure functions: the worker threads in dkim-pool.ts run them off the main thread, because one
 * RSA-2048 signature costs about a millisecond and would otherwise cap a send near 1,000 messages/s.
 */

export interface DkimSignerKey {
  domain: string;
  selector: string;
  privateKey: string;
}

export interface PreparedKey {
  domain: string;
  selector: string;
  key: KeyObject;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  /** Lower-case names of the headers to sign when present. */
  signed: Set<string>;
}

export function prepareKey(k: DkimSignerKey, signedHeaders: string): PreparedKey {
  const key = createPrivateKey(k.privateKey);
  return {
    domain: k.domain,
    selector: k.selector,
    key,
    algorithm: key.asymmetricKeyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
    signed: new Set(signedHeaders.split(':').map((h) => h.trim().toLowerCase()).filter(Boolean)),
  };
}

/** Splits a CRLF header block into [name, value] fields (continuation lines stay in the value). */
export function splitHeaders(block: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && fields.length > 0) {
      fields[fields.length - 1]![1] += `\r\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) fields.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return fields;
}

/** RFC 6376 §3.4.2. */
export function relaxedHeader(name: string, value: string): string {
  return `${name.trim().toLowerCase()}:${value.replace(/\r\n(?=[ \t])/g, '').replace(/[ \t]+/g, ' ').trim()}`;
}

/** RFC 6376 §3.4.4. */
export function relaxedBody(body: string): string {
  // Only the whitespace that changes is replaced: a tab, or a run of two or more (replacing every
  // single space of a 14 KB body with itself took a fifth of a signing thread's time). Runs are single
  // spaces after the first pass, so a line's trailing whitespace is then exactly ' ' before its CRLF.
  let text = body.replace(/\t[ \t]*| [ \t]+/g, ' ').replace(/ \r\n/g, '\r\n');
  if (text.endsWith(' ')) text = text.slice(0, -1);
  let end = text.length;
  while (end >= 2 && text.charCodeAt(end - 1) === 10 && text.charCodeAt(end - 2) === 13) end -= 2;
  return end === 0 ? '' : `${text.slice(0, end)}\r\n`;
}

/** The `DKIM-Signature: …\r\n` line to put on top of the message. */
export function dkimSignatureLine(k: PreparedKey, headers: string, body: string, timeSeconds: number): string {
  const bh = createHash('sha256').update(relaxedBody(body), 'utf8').digest('base64');
  const names: string[] = [];
  let data = '';
  for (const [name, value] of splitHeaders(headers)) {
    if (!k.signed.has(name.trim().toLowerCase())) continue;
    names.push(name.trim());
    data += `${relaxedHeader(name, value)}\r\n`;
  }
  const value =
    `v=1; a=${k.algorithm}; c=relaxed/relaxed; d=${k.domain}; s=${k.selector}; t=${timeSeconds}; ` +
    `h=${names.join(':')}; bh=${bh}; b=`;
  data += relaxedHeader('DKIM-Signature', value);
  const signature =
    k.algorithm === 'rsa-sha256'
      ? sign('sha256', Buffer.from(data, 'utf8'), k.key)
      : sign(null, createHash('sha256').update(data, 'utf8').digest(), k.key);
  const b = signature.toString('base64').replace(/.{1,72}/g, (chunk, offset: number) => (offset === 0 ? chunk : `\r\n ${chunk}`));
  return `DKIM-Signature: ${value.replace(/; /g, ';\r\n ')}${b}\r\n`;
}
