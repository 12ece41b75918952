/**
 * Wall-clock times in a newsletter's IANA time zone, without a date library: the writer types
 * "2026-12-01T09:00" meaning 9 am where they are, and sees scheduled times the same way.
 */

import { formatOffset, isTimeZone } from '../../lib/time-zones.js';

// Times written for people come from the admin's one formatter (lib/time-zones); re-exported for the posts pages.
export { formatClock, formatDate, formatZoned, isTimeZone } from '../../lib/time-zones.js';

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

const MINUTE = 60_000;
const DAY = 86_400_000;

/** "YYYY-MM-DDTHH:mm" as if it were UTC (the wall time as a number); undefined when it is not a real date. */
function wallTime(local: string): number | undefined {
  const m = LOCAL.exec(local.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) return undefined;
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  const check = new Date(wall);
  return check.getUTCDate() === day && check.getUTCMonth() === month - 1 ? wall : undefined;
}

/**
 * The instants whose wall time in `zone` is `wall`, earliest first: one as a rule, none inside a
 * daylight-saving gap, two in the hour repeated when clocks go back. Offset changes are at least days
 * apart, so the offsets in force a day either side are the only ones a wall time can have.
 */
function instantsAt(wall: number, zone: string): number[] {
  const offsets = new Set([offsetAt(wall - DAY, zone), offsetAt(wall, zone), offsetAt(wall + DAY, zone)]);
  const found = new Set<number>();
  for (const offset of offsets) if (offsetAt(wall - offset, zone) === offset) found.add(wall - offset);
  return [...found].sort((a, b) => a - b);
}

/** The instant an offset change happens between `before` (old offset) and `after` (new offset). */
function changeBetween(before: number, after: number, zone: string): number {
  const old = offsetAt(before, zone);
  while (after - before > 1000) {
    const mid = before + Math.floor((after - before) / 2000) * 1000;
    if (offsetAt(mid, zone) === old) before = mid;
    else after = mid;
  }
  return after;
}

/** What a clock change looks like on the wall: "02:00" → "03:00" on "28 March". */
export interface ClockChange {
  /** The day as writers say it: "28 March". */
  day: string;
  from: string;
  to: string;
}

export type ZonedTime =
  | { kind: 'exact'; at: number }
  /** Clocks go forward over this wall time: it never happens. */
  | { kind: 'skipped'; time: string; change: ClockChange }
  /** Clocks go back over this wall time: it happens twice; `at` is the first, `later` the second. */
  | { kind: 'repeated'; at: number; later: number; time: string; change: ClockChange };

const hhmm = (wall: number) => new Date(wall).toISOString().slice(11, 16);
const dayOf = (wall: number) => new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'long' }).format(new Date(wall));

function changeAround(zone: string, before: number, after: number): ClockChange {
  const at = changeBetween(before, after, zone);
  return { day: dayOf(at + offsetAt(at, zone)), from: hhmm(at + offsetAt(before, zone)), to: hhmm(at + offsetAt(after, zone)) };
}

/**
 * "YYYY-MM-DDTHH:mm" in `timeZone` → what that wall time is there: one instant, none (inside a
 * daylight-saving gap) or two (in the repeated hour). Undefined when it is not a real date.
 */
export function resolveZoned(local: string, timeZone: string): ZonedTime | undefined {
  const wall = wallTime(local);
  if (wall === undefined) return undefined;
  const zone = isTimeZone(timeZone) ? timeZone : 'UTC';
  const instants = instantsAt(wall, zone);
  if (instants.length === 1) return { kind: 'exact', at: instants[0]! };
  if (instants.length === 0) {
    // Before the gap the old offset holds, after it the new one: the change is between the two readings.
    const before = wall - offsetAt(wall + DAY, zone);
    const after = wall - offsetAt(wall - DAY, zone);
    return { kind: 'skipped', time: hhmm(wall), change: changeAround(zone, before, after) };
  }
  const [at, later] = instants as [number, number];
  return { kind: 'repeated', at, later, time: hhmm(wall), change: changeAround(zone, at, later) };
}

/** When `ms` falls in an hour that happens twice in `timeZone`, which one it is, for a confirmation. */
export function repeatedTimeNote(ms: number, timeZone: string): string | undefined {
  const zone = isTimeZone(timeZone) ? timeZone : 'UTC';
  const offset = offsetAt(ms, zone);
  const wall = Math.floor(ms / MINUTE) * MINUTE + offset;
  const instants = instantsAt(wall, zone);
  if (instants.length !== 2) return undefined;
  const change = changeAround(zone, instants[0]!, instants[1]!);
  const which = ms < instants[1]! ? 'the first' : 'the second';
  return `${hhmm(wall)} happens twice on ${change.day} in ${zone} (clocks go back from ${change.from} to ${change.to}): this is ${which}, at ${formatOffset(Math.round(offset / MINUTE))}.`;
}

/** Epoch ms → "YYYY-MM-DDTHH:mm" in `timeZone` (the value a datetime-local input takes). */
export function epochToZoned(ms: number, timeZone: string): string {
  const p = parts(ms, isTimeZone(timeZone) ? timeZone : 'UTC');
  const two = (n: number) => String(n).padStart(2, '0');
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
}
