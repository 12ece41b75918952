/**
 * Deterministic malformed input: a seeded PRNG and the values, encodings and bodies the fuzz test draws
 * from. A value is a string, or `Raw`: bytes already percent-encoded (invalid UTF-8, lone surrogates,
 * broken escapes) that go into a URL or form body exactly as written.
 */

export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32: small, fast and good enough to spread requests. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export class Raw {
  constructor(readonly s: string) {}
}
export type Value = string | Raw;

const cursor = (key: Record<string, unknown>) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** Grouped so that each kind of trouble is drawn often enough, whatever the size of its group. */
export const NASTY: Record<string, Value[]> = {
  nul: ['\0', 'a\0b', 'fuzz\0@example.com', '\0\0\0', 'vip\0', '/admin\0', new Raw('%00'), new Raw('x%00y'), new Raw('%C0%80')],
  controls: ['\x01', '\x07bell', '\x1b[31mred', 'line\r\nX-Injected: yes', '\x7f', '\x08\x0b\x0c', 'tab\there', '\x1f'],
  numbers: ['2147483648', '2147483647', '4294967296', '9007199254740993', '99999999999', '999999999999999999999999', '-1', '0', '00', '-0', '1e3', '0x1f', '1.5', ' 7', '+1', 'NaN', 'Infinity', '-2147483649'],
  unicode: ['😀', '𝔊azette 📰', '\u{10FFFF}', '/→', '/😀', '→', '\uFEFF', '\u202Eevil', 'e\u0301', 'Ω', '\u3000', '/\uFF0F/evil', 'ß'.repeat(40)],
  surrogates: ['\ud800', '\udfff', 'x\ud83d', '\udc00y', new Raw('%ED%A0%80'), new Raw('%ED%BF%BF'), new Raw('%F0%9F%98'), new Raw('%FF%FE'), new Raw('%E2%82')],
  escapes: [new Raw('%zz'), new Raw('%'), new Raw('%%41'), new Raw('%2'), new Raw('%u0041'), new Raw('+%2B+')],
  long: ['x'.repeat(5000), 'é'.repeat(3000), `${'a'.repeat(300)}@example.com`, '9'.repeat(400)],
  hostile: ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', '../../../etc/passwd', '<script>alert(1)</script>', '{{ subscriber.email }}', "' OR 1=1 --", '__proto__', 'constructor', 'null', '[]', '{}', '', ' ', '*'],
  tokens: [
    'nope',
    'A'.repeat(43),
    'a.b',
    '.',
    cursor({ created_at: 1, id: 99_999_999_999 }),
    cursor({ created_at: 9_007_199_254_740_991, id: 2_147_483_648 }),
    cursor({ email: 'a\0b' }),
    cursor({ created_at: -1, id: -1 }),
    'eyJpZCI6MX0',
  ],
};
/** Values for fields that hold a path (`next`): shapes that escape the site or break a Location header. */
export const NASTY_PATHS: Value[] = ['/→', '/😀', '/é', '/a b', '//evil.example', '/\\evil.example', '/\t/evil.example', '/\r\nX: y', '/\0', '/\ud800', new Raw('%2F%ED%A0%80'), '/%zz'];

/**
 * NUL bytes and out-of-range numbers are drawn most: they are what databases refuse. A bad value either
 * replaces a plausible one or is appended to it, so it survives checks on the value's shape.
 */
export function nasty(rng: Rng, plausible?: string): Value {
  const roll = rng.next();
  const group = roll < 0.3 ? 'nul' : roll < 0.45 ? 'numbers' : rng.pick(Object.keys(NASTY));
  if (plausible?.startsWith('/') && rng.chance(0.5)) return rng.pick(NASTY_PATHS);
  const value = rng.pick(NASTY[group]!);
  if (plausible === undefined || plausible === '' || rng.chance(0.5)) return value;
  return value instanceof Raw ? new Raw(`${enc(plausible)}${value.s}`) : `${plausible}${value}`;
}

/** A string for JSON bodies (Raw values are decoded the way a lenient server would). */
export function asString(v: Value): string {
  if (typeof v === 'string') return v;
  try {
    return decodeURIComponent(v.s);
  } catch {
    return v.s;
  }
}

/** Percent-encodes like encodeURIComponent, but a lone surrogate becomes its (invalid) WTF-8 bytes. */
export function enc(v: Value): string {
  if (v instanceof Raw) return v.s;
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < v.length && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    if (pair) {
      out += encodeURIComponent(v.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(v[i]!);
    }
  }
  return out;
}

export type Fields = Array<[string, Value]>;

export const urlencoded = (fields: Fields) => fields.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');

/** A JSON body from form fields, with some values turned into the wrong JSON types. */
export function jsonBody(rng: Rng, fields: Fields): string {
  const wrong = [() => [asString(nasty(rng))], () => ({ $ne: null }), () => 1e308, () => null, () => true, () => -1, () => [[['deep']]], () => JSON.parse('{"__proto__":{"admin":true}}') as unknown];
  const obj: Record<string, unknown> = {};
  for (const [k, v] of fields) obj[k] = rng.chance(0.15) ? rng.pick(wrong)() : asString(v);
  return JSON.stringify(obj);
}

export const BROKEN_JSON = ['{', '{"email":', '[1,2', '{"a":1}}', "{'a':1}", 'nul', '"\\ud800"', '{"a":"\\u0000"}', '\u0000', '{"__proto__":{"x":1}}', '1'.repeat(400), '[]', 'null', '"text"'];

/** A multipart body the way a browser sends one, from possibly hostile fields and file name. */
export function multipartBody(fields: Fields, file?: { name: Value; content: string }): { payload: Buffer; contentType: string } {
  const boundary = '----fuzzboundary7MA4YWxkTrZu0gW';
  const parts: Buffer[] = [];
  for (const [k, v] of fields) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${asString(k)}"\r\n\r\n${asString(v)}\r\n`));
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${asString(file.name)}"\r\nContent-Type: text/csv\r\n\r\n${file.content}\r\n`));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Ways to break a multipart request (0 to 5): no boundary, a cut body, a boundary that never comes, too many parts… */
export function brokenMultipart(variant: number, good: { payload: Buffer; contentType: string }): { payload: Buffer; contentType: string } {
  switch (variant % 6) {
    case 0:
      return { payload: good.payload, contentType: 'multipart/form-data' };
    case 1:
      return { payload: good.payload.subarray(0, Math.floor(good.payload.length * 0.6)), contentType: good.contentType };
    case 2:
      return { payload: good.payload, contentType: 'multipart/form-data; boundary=somethingelse' };
    case 3:
      return { payload: Buffer.from('--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n'), contentType: 'multipart/form-data; boundary=b' };
    case 4: {
      const many: Fields = Array.from({ length: 40 }, (_, i) => [`f${i}`, 'x']);
      return multipartBody(many);
    }
    default:
      return { payload: Buffer.from('not multipart at all'), contentType: 'multipart/form-data; boundary=' };
  }
}

export const ODD_CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/octet-stream',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/json; charset=utf-16',
  'multipart/mixed; boundary=x',
  'application/x-www-form-urlencoded, application/json',
  'invalid',
];
