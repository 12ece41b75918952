/**
 * Personal data and secrets out of text that leaves the request: error messages and stacks kept for the
 * admin, events sent to Sentry, log lines. What looks like an address, a token or a credential is
 * replaced by a placeholder that says what was there.
 */

const EMAIL = /[\p{L}\p{N}.!#$%&'*+/=?^_`{|}~-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;
/** `Bearer …`, `Basic …` and `key=value` credentials, in headers pasted into messages or URLs. */
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/gi;
const SECRET_PAIR = /\b(password|passwd|pass|secret|token|api[_-]?key|apikey|authorization|cookie|session|csrf|_csrf|key|sig|signature)=([^&\s"';,]+)/gi;
/** user:password@ in a URL (SMTP and database URLs end up in connection errors). */
const URL_CREDENTIALS = /(\/\/[^:/@\s]*:)[^@/\s]+@/g;
/**
 * A run of 20+ token characters with at least one digit: random ids, HMACs, session ids. Plain words and
 * file paths do not match (a path's slashes and dots break the run).
 */
const TOKEN = /\b(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}\b/g;

export function redactText(text: string): string {
  return text
    .replace(URL_CREDENTIALS, '$1[redacted]@')
    .replace(EMAIL, '[email]')
    .replace(AUTH_SCHEME, '$1 [redacted]')
    .replace(SECRET_PAIR, '$1=[redacted]')
    .replace(TOKEN, '[token]');
}

/** A request URL without its query string (where forms and links carry addresses), its tokens redacted. */
export function redactUrl(url: string): string {
  const path = url.split('?')[0] ?? '';
  return redactText(path) + (url.includes('?') ? '?[query]' : '');
}
