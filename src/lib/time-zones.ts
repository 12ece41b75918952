/**
 * Time zones for the admin: the list a newsletter picks its zone from, and the one way a moment is
 * written in a zone. A page writes all its times in one zone and names it: a post's pages use its
 * newsletter's zone, pages about the whole list use the default newsletter's (`listTimeZone`).
 */

export const DEFAULT_TIME_ZONE = 'UTC';

/** Zone names are short ("America/Argentina/ComodRivadavia" is the longest); anything longer is refused unread. */
const MAX_ZONE_LENGTH = 64;

export function isTimeZone(timeZone: string): boolean {
  return canonicalTimeZone(timeZone) !== undefined;
}

/**
 * The runtime's own spelling of a zone ("utc", "Etc/UTC" and "GMT" → "UTC", "europe/paris" →
 * "Europe/Paris"), so a saved value matches an entry of the list; undefined when it is not a zone.
 */
export function canonicalTimeZone(timeZone: string): string | undefined {
  if (!timeZone || timeZone.length > MAX_ZONE_LENGTH) return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

function zoneOrUtc(timeZone: string): string {
  return isTimeZone(timeZone) ? timeZone : DEFAULT_TIME_ZONE;
}

/** How many minutes `timeZone` is ahead of UTC at the instant `ms`. */
export function offsetMinutes(ms: number, timeZone: string): number {
  const name = new Intl.DateTimeFormat('en', { timeZone: zoneOrUtc(timeZone), timeZoneName: 'longOffset' })
    .formatToParts(new Date(ms))
    .find((p) => p.type === 'timeZoneName')?.value;
  // "GMT+05:45", or a bare "GMT" at offset zero.
  const m = /([+-])(\d{2}):(\d{2})/.exec(name ?? '');
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/** "UTC+01:00", "UTC-03:30", "UTC+00:00". */
export function formatOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  const two = (n: number) => String(n).padStart(2, '0');
  return `UTC${minutes < 0 ? '-' : '+'}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

export interface TimeZoneOption {
  id: string;
  /** "(UTC+01:00) Europe/Paris": the offset in force at the time the list was made. */
  label: string;
  offset: number;
}

const HOUR = 3_600_000;
let cached: { hour: number; options: TimeZoneOption[] } | undefined;

/**
 * Every zone the runtime knows, with UTC first (Intl.supportedValuesOf leaves UTC out), then west to
 * east by the offset in force now, then by name. Offsets change only at daylight-saving switches, and
 * computing ~420 of them takes a noticeable fraction of a second, so the list is kept for the hour.
 */
export function timeZoneOptions(now: number): TimeZoneOption[] {
  const hour = Math.floor(now / HOUR);
  if (cached?.hour === hour) return cached.options;
  const zones = Intl.supportedValuesOf('timeZone').filter((id) => id !== DEFAULT_TIME_ZONE);
  const options = zones
    .map((id) => {
      const offset = offsetMinutes(now, id);
      return { id, offset, label: `(${formatOffset(offset)}) ${id}` };
    })
    .sort((a, b) => a.offset - b.offset || a.id.localeCompare(b.id, 'en'));
  options.unshift({ id: DEFAULT_TIME_ZONE, offset: 0, label: `(${formatOffset(0)}) ${DEFAULT_TIME_ZONE}` });
  cached = { hour, options };
  return options;
}

/** The list with `selected` in it even when the runtime does not list it (an "Etc/GMT+5" saved earlier). */
export function timeZoneOptionsWith(now: number, selected: string): TimeZoneOption[] {
  const options = timeZoneOptions(now);
  const zone = canonicalTimeZone(selected);
  if (!zone || options.some((o) => o.id === zone)) return options;
  return [zoneOption(now, zone), ...options];
}

export function zoneOption(now: number, timeZone: string): TimeZoneOption {
  const id = zoneOrUtc(timeZone);
  const offset = offsetMinutes(now, id);
  return { id, offset, label: `(${formatOffset(offset)}) ${id}` };
}

/**
 * The zone of pages about the whole list (subscribers, their history): the default newsletter's, else
 * the oldest newsletter's (the one "/" shows), else UTC.
 */
export function listTimeZone(newsletters: ReadonlyArray<{ id: number; default_lock: number | null; time_zone: string }>): string {
  const chosen = newsletters.find((n) => n.default_lock === 1) ?? [...newsletters].sort((a, b) => a.id - b.id)[0];
  return zoneOrUtc(chosen?.time_zone ?? DEFAULT_TIME_ZONE);
}

function dateTimeFormat(zone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
}

function clockFormat(zone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}

function dateFormat(zone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, day: 'numeric', month: 'long', year: 'numeric' });
}

/** A readable date and time in `timeZone`, naming the zone: "Tue, 1 Dec 2026, 09:00 (Europe/Paris)". */
export function formatZoned(ms: number, timeZone: string): string {
  return timesIn(timeZone).dateTime(ms);
}

/** Just the time of day in `timeZone`, for "saved at 14:03:09". */
export function formatClock(ms: number, timeZone: string): string {
  return timesIn(timeZone).clock(ms);
}

/** A date for lists, archives and feeds: "22 November 2026". */
export function formatDate(ms: number, timeZone: string): string {
  return timesIn(timeZone).date(ms);
}

export interface ZonedTimes {
  zone: string;
  dateTime(ms: number | string): string;
  date(ms: number | string): string;
  clock(ms: number | string): string;
}

/**
 * The formatters for one page, bound to its zone (templates get this; each formatter is built once, not
 * per row). Timestamps may arrive as strings from a driver, hence Number().
 */
export function timesIn(timeZone: string): ZonedTimes {
  const zone = zoneOrUtc(timeZone);
  let full: Intl.DateTimeFormat | undefined;
  let day: Intl.DateTimeFormat | undefined;
  let time: Intl.DateTimeFormat | undefined;
  return {
    zone,
    dateTime: (ms) => `${(full ??= dateTimeFormat(zone)).format(new Date(Number(ms)))} (${zone})`,
    date: (ms) => (day ??= dateFormat(zone)).format(new Date(Number(ms))),
    clock: (ms) => (time ??= clockFormat(zone)).format(new Date(Number(ms))),
  };
}
