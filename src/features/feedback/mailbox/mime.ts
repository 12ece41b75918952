/**
 * Just enough MIME to read bounce and complaint mail: headers, the multipart tree, transfer encodings
 * and charsets. A general parser (mailparser) folds `message/delivery-status` and `message/feedback-report`
 * parts into the message's text, and those parts are exactly what a DSN or ARF report is made of, so the
 * tree is walked here. Everything is synchronous and pure; the message is handled as latin1 text so byte
 * offsets survive until a part's own charset decodes it.
 */

export interface HeaderField {
  /** Lower case. */
  name: string;
  /** Unfolded, trimmed; encoded words are left as they are (see decodeWords). */
  value: string;
}

export interface MimePart {
  headers: HeaderField[];
  /** Lower-case media type, `text/plain` when the part has none. */
  type: string;
  /** Lower-case parameter names (boundary, charset, report-type…). */
  params: Record<string, string>;
  /** The body after its Content-Transfer-Encoding is undone; still bytes in the part's charset. */
  body: Buffer;
  /** Children of a multipart; the one enclosed message of a message/rfc822 part. */
  parts: MimePart[];
}

/** Nesting deeper than this is not a bounce: the rest is kept as an opaque body. */
const MAX_DEPTH = 8;
/** No real header is longer; a longer one is cut, so no later pattern ever scans an unbounded value. */
const MAX_HEADER_VALUE = 16 * 1024;

/** Splits the header block (up to the first empty line) from the body; tolerates LF-only mail. */
function splitHead(text: string): { head: string; body: string } {
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { head: text, body: '' };
  // A message starting with an empty line has no headers at all.
  if (m.index === 0) return { head: '', body: text.slice(m[0].length) };
  return { head: text.slice(0, m.index), body: text.slice(m.index + m[0].length) };
}

/** Parses a header block ("Name: value" lines, continuation lines starting with white space). */
export function parseHeaderBlock(block: string): HeaderField[] {
  const fields: HeaderField[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0) {
      const last = fields[fields.length - 1]!;
      if (last.value.length < MAX_HEADER_VALUE) last.value = `${last.value} ${line.trim()}`.trim().slice(0, MAX_HEADER_VALUE);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue;
    fields.push({ name, value: line.slice(colon + 1, colon + 1 + MAX_HEADER_VALUE).trim() });
  }
  return fields;
}

export function headerValue(headers: HeaderField[], name: string): string | undefined {
  return headers.find((h) => h.name === name)?.value;
}

export function headerValues(headers: HeaderField[], name: string): string[] {
  return headers.filter((h) => h.name === name).map((h) => h.value);
}

/** `type/subtype; a=b; c="d"` into the lower-case type and its parameters (RFC 2231 continuations joined). */
export function parseContentType(value: string | undefined): { type: string; params: Record<string, string> } {
  if (!value) return { type: 'text/plain', params: {} };
  const [rawType = '', ...rest] = splitParams(value);
  const params: Record<string, string> = {};
  for (const piece of rest) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    let name = piece.slice(0, eq).trim().toLowerCase();
    let v = piece.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    // boundary*0=…; boundary*1=…: rare in bounces, but joining them costs nothing.
    const continued = /^(.+)\*\d+\*?$/.exec(name);
    if (continued) {
      name = continued[1]!;
      params[name] = (params[name] ?? '') + v;
    } else params[name] = v;
  }
  const type = rawType.trim().toLowerCase();
  return { type: /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type) ? type : 'text/plain', params };
}

/** Splits on semicolons outside quoted strings. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '"' && value[i - 1] !== '\\') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

function decodeQuotedPrintable(text: string): Buffer {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined.charCodeAt(i);
    if (c === 0x3d && /^[0-9a-fA-F]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c & 0xff);
  }
  return Buffer.from(bytes);
}

function decodeTransfer(body: string, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return Buffer.from(body, 'latin1');
  }
}

/** Decodes bytes in `charset`; an unknown charset falls back to UTF-8, then latin1 when that is not valid. */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  const label = (charset ?? 'utf-8').trim().toLowerCase();
  try {
    if (label === 'us-ascii' || label === 'ascii') return new TextDecoder('utf-8').decode(bytes);
    return new TextDecoder(label).decode(bytes);
  } catch {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return bytes.toString('latin1');
    }
  }
}

/** The text of a part, decoded from its charset. */
export function partText(part: MimePart): string {
  return decodeCharset(part.body, part.params.charset);
}

/** RFC 2047 encoded words (`=?utf-8?Q?…?=`) in a header value, e.g. a Subject. */
export function decodeWords(value: string): string {
  return value.replace(/=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=(\s+(?==\?))?/g, (_all, charset: string, enc: string, text: string) => {
    const bytes =
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : decodeQuotedPrintable(text.replace(/_/g, ' '));
    return decodeCharset(bytes, charset.replace(/\*.*$/, ''));
  });
}

function parsePart(text: string, depth: number): MimePart {
  const { head, body } = splitHead(text);
  const headers = parseHeaderBlock(head);
  const { type, params } = parseContentType(headerValue(headers, 'content-type'));
  const part: MimePart = { headers, type, params, body: Buffer.alloc(0), parts: [] };
  if (depth < MAX_DEPTH && type.startsWith('multipart/') && params.boundary) {
    part.parts = splitMultipart(body, params.boundary).map((child) => parsePart(child, depth + 1));
    return part;
  }
  part.body = decodeTransfer(body, headerValue(headers, 'content-transfer-encoding'));
  if (depth < MAX_DEPTH && (type === 'message/rfc822' || type === 'message/global')) {
    part.parts = [parsePart(part.body.toString('latin1'), depth + 1)];
  }
  return part;
}

/** The bodies between `--boundary` lines; a missing closing delimiter ends at the end of the text. */
function splitMultipart(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const pieces: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith(delimiter)) {
      const rest = line.slice(delimiter.length);
      if (current) pieces.push(current.join('\r\n'));
      if (rest.startsWith('--')) return pieces;
      if (rest.trim() === '') {
        current = [];
        continue;
      }
    }
    current?.push(line);
  }
  if (current) pieces.push(current.join('\r\n'));
  return pieces;
}

/** Parses a whole message. Never throws: what is not MIME comes back as one text/plain part. */
export function parseMessage(raw: Buffer | string): MimePart {
  return parsePart(typeof raw === 'string' ? Buffer.from(raw, 'utf8').toString('latin1') : raw.toString('latin1'), 0);
}

/** Every part of the tree, depth first, the root included. */
export function allParts(root: MimePart): MimePart[] {
  const out: MimePart[] = [];
  const visit = (p: MimePart) => {
    out.push(p);
    p.parts.forEach(visit);
  };
  visit(root);
  return out;
}
