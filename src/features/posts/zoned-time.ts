/**
 * Wall-clock times in a newsletter's IANA time zone, without a date library: the writer types
 * "2026-12-01T09:00" meaning 9 am where they are, and sees scheduled times the same way.
 */

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?$/;

function parts(ms: number, timeZone: string) {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const out: Record<string, number> = {};
  for (const p of fmt.formatToParts(new Date(ms))) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out as { year: number; month: number; day: number; hour: number; minute: number; second: number };
}

/** How far `timeZone` is ahead of UTC at the instant `ms`. */
function offsetAt(ms: number, timeZone: string): number {
  const p = parts(ms, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * "YYYY-MM-DDTHH:mm" in `timeZone` → epoch ms; undefined when it is not a real date. A time skipped by a
 * daylight-saving jump resolves to the same wall time after the jump, as calendars do.
 */
export function zonedToEpoch(local: string, timeZone: string): number | undefined {
  const m = LOCAL.exec(local.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return undefined;
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  const check = new Date(asUtc);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
  const zone = isTimeZone(timeZone) ? timeZone : 'UTC';
  let guess = asUtc - offsetAt(asUtc, zone);
  // A second pass settles the guess when the offset differs on the two sides of a DST change.
  guess = asUtc - offsetAt(guess, zone);
  return guess;
}

/** Epoch ms → "YYYY-MM-DDTHH:mm" in `timeZone` (the value a datetime-local input takes). */
export function epochToZoned(ms: number, timeZone: string): string {
  const p = parts(ms, isTimeZone(timeZone) ? timeZone : 'UTC');
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}

/** A readable date and time in `timeZone`, naming the zone: "Tue, 1 Dec 2026, 09:00 (Europe/Paris)". */
export function formatZoned(ms: number, timeZone: string): string {
  const zone = isTimeZone(timeZone) ? timeZone : 'UTC';
  const text = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms));
  return `${text} (${zone})`;
}

/** Just the time of day in `timeZone`, for "saved at 14:03". */
export function formatClock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: isTimeZone(timeZone) ? timeZone : 'UTC',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(ms));
}

/** A date for archive lists and feeds: "22 November 2026". */
export function formatDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: isTimeZone(timeZone) ? timeZone : 'UTC', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(ms));
}
