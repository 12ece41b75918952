import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { isValidEmail } from '../lib/email.js';

/**
 * The few MIME building blocks the message compiler needs, written so that nothing a writer or a
 * subscriber types can reach the header syntax: every header value is stripped of control characters
 * (CR and LF included) before it is encoded, header names are fixed by us, and non-ASCII text becomes
 * RFC 2047 encoded-words. Bodies are quoted-printable, so no line is ever longer than 76 octets.
 */

const CONTROL = /[\u0000-\u001f\u007f\u0080-\u009f\u2028\u2029]+/g;

/** One line of plain text for a header: control characters (CR/LF included) become a space. */
export function headerText(value: string, maxLength = 500): string {
  return value.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim().slice(0, maxLength);
}

const PLAIN_ASCII = /^[\x20-\x7e]*$/;

/**
 * An unstructured header value (Subject): plain when printable ASCII, otherwise UTF-8 encoded-words.
 * "=?" in plain text would be read as an encoded-word by mail clients, so it is encoded too.
 */
export function encodeUnstructured(value: string): string {
  const text = headerText(value, 998);
  if (PLAIN_ASCII.test(text) && !text.includes('=?')) return text;
  return encodeWord(text, 'B', 52);
}

/** A display name as a quoted-string (ASCII) or encoded-words (anything else). */
export function encodeDisplayName(name: string): string {
  const text = headerText(name, 200);
  if (text === '') return '';
  if (PLAIN_ASCII.test(text) && !text.includes('=?')) return `"${text.replace(/["\\]/g, '\\$&')}"`;
  return encodeWord(text, 'B', 52);
}

/** `"Name" <address>` (or the bare address). Throws on an address that is not one plain mailbox. */
export function formatMailbox(name: string | null | undefined, address: string): string {
  if (!isValidEmail(address)) throw new Error(`not a valid email address: ${JSON.stringify(address.slice(0, 100))}`);
  const display = encodeDisplayName(name ?? '');
  return display ? `${display} <${address}>` : address;
}

/**
 * `Name: value\r\n`, folded at spaces so lines stay near 78 octets. Values here are ASCII by
 * construction (see above); a single word is never split, and none we build comes near 998 octets.
 */
export function headerLine(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= 78) return `${line}\r\n`;
  const words = line.split(' ');
  let out = words[0]!;
  let width = out.length;
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (width + 1 + word.length > 78 && width > 0) {
      out += `\r\n ${word}`;
      width = 1 + word.length;
    } else {
      out += ` ${word}`;
      width += 1 + word.length;
    }
  }
  return `${out}\r\n`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** RFC 5322 date-time in UTC, e.g. "Sun, 22 Nov 2026 12:00:00 +0000". */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`
  );
}

/** Any newline convention to CRLF. */
export function crlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

/**
 * No line of a message we build starts with a dot: in quoted-printable a dot can be written "=2E",
 * so the bytes need no SMTP dot-stuffing and go on the wire as they are (see isWireReady in transport.ts).
 */
const LINE_START_DOT = /(^|\n)\./g;

/**
 * Quoted-printable for one piece of a body that starts at the beginning of a line. With `soft` the
 * piece ends with a soft line break, so whatever follows (a merge value) starts a fresh line too:
 * that is what lets static pieces be encoded once per post and values once per recipient, and the
 * concatenation still be valid quoted-printable that decodes to the concatenated text.
 */
export function qpPiece(text: string, soft: boolean): string {
  if (text === '') return '';
  // Wrapped at 73 so that a line starting with a dot, written "=2E", still fits in 76 octets.
  const encoded = qpWrap(qpEncode(crlf(text)), 73).replace(LINE_START_DOT, '$1=2E');
  if (!soft || encoded.endsWith('\r\n')) return encoded;
  return `${encoded}=\r\n`;
}

/** Values are usually short, plain ASCII without "=" and not starting with a dot: those need no encoding at all. */
const QP_SAFE_SHORT = /^[\x21-\x2d\x2f-\x3c\x3e-\x7e]([\x20-\x3c\x3e-\x7e]{0,68}[\x21-\x3c\x3e-\x7e])?$/;

/** A per-recipient value as its own quoted-printable lines, ending with a soft break. */
export function qpValue(text: string): string {
  if (text === '') return '';
  if (QP_SAFE_SHORT.test(text)) return `${text}=\r\n`;
  return qpPiece(text, true);
}
