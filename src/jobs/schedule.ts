import cron from 'node-cron';

/**
 * A job's cron schedule, read by node-cron's own parser and evaluated in UTC. node-cron fires the ticks
 * in production; the registry also needs to ask "is this a tick?" and "when is the next one?" for a time
 * it is given (tests move an injected clock, the Jobs page shows the next run), which node-cron only
 * answers for the real current time, so those two questions are answered here from the parsed fields.
 */

export const SCHEDULE_TIME_ZONE = 'UTC';

export interface Schedule {
  expression: string;
  /** The schedule in words for the admin ("every minute", "every day at 03:00 UTC"). */
  words: string;
  second: readonly number[];
  minute: readonly number[];
  hour: readonly number[];
  dayOfMonth: ReadonlySet<number>;
  month: ReadonlySet<number>;
  dayOfWeek: ReadonlySet<number>;
}

const DAY_MS = 86_400_000;
/** How far ahead nextRunAfter looks (29 February on a Monday, say, takes up to 28 years). */
const HORIZON_DAYS = 366 * 30;

function numbers(field: string, values: Array<number | string>): number[] {
  for (const v of values) {
    // L, W and # days are node-cron extensions this evaluator does not implement.
    if (typeof v !== 'number') throw new Error(`the ${field} field "${v}" is not supported by the job registry`);
  }
  return values as number[];
}

/** Parses and checks a node-cron expression (5 fields, or 6 with seconds first); throws with the reason. */
export function parseSchedule(expression: string): Schedule {
  const check = cron.validateDetailed(expression);
  if (!check.valid) throw new Error(`invalid schedule "${expression}": ${check.errors.map((e) => e.message).join('; ')}`);
  const f = cron.parse(expression);
  const sorted = (field: string, values: Array<number | string>) => [...new Set(numbers(field, values))].sort((a, b) => a - b);
  const schedule = {
    expression,
    words: '',
    second: sorted('second', f.second),
    minute: sorted('minute', f.minute),
    hour: sorted('hour', f.hour),
    dayOfMonth: new Set(numbers('day of month', f.dayOfMonth)),
    month: new Set(numbers('month', f.month)),
    // cron allows 7 for Sunday as well as 0.
    dayOfWeek: new Set(numbers('day of week', f.dayOfWeek).map((d) => d % 7)),
  };
  schedule.words = describe(schedule);
  return schedule;
}

function dayMatches(s: Schedule, at: Date): boolean {
  // Day of month and day of week must both match, as node-cron has it.
  return s.month.has(at.getUTCMonth() + 1) && s.dayOfMonth.has(at.getUTCDate()) && s.dayOfWeek.has(at.getUTCDay());
}

/** Whether `ms` (to the second) is one of the schedule's ticks. */
export function isTick(s: Schedule, ms: number): boolean {
  const at = new Date(Math.floor(ms / 1000) * 1000);
  return dayMatches(s, at) && s.hour.includes(at.getUTCHours()) && s.minute.includes(at.getUTCMinutes()) && s.second.includes(at.getUTCSeconds());
}

/** The first second of the day, at or after `secondOfDay`, that the schedule's time fields allow. */
function firstTimeOfDay(s: Schedule, secondOfDay: number): number | undefined {
  for (const h of s.hour) {
    if ((h + 1) * 3600 <= secondOfDay) continue;
    for (const m of s.minute) {
      if (h * 3600 + (m + 1) * 60 <= secondOfDay) continue;
      for (const sec of s.second) {
        const at = h * 3600 + m * 60 + sec;
        if (at >= secondOfDay) return at;
      }
    }
  }
  return undefined;
}

/** The schedule's first tick strictly after `ms`. */
export function nextRunAfter(s: Schedule, ms: number): number {
  let from = Math.floor(ms / 1000) * 1000 + 1000;
  for (let day = 0; day < HORIZON_DAYS; day++) {
    const startOfDay = from - (from % DAY_MS);
    if (dayMatches(s, new Date(startOfDay))) {
      const at = firstTimeOfDay(s, (from - startOfDay) / 1000);
      if (at !== undefined) return startOfDay + at * 1000;
    }
    from = startOfDay + DAY_MS;
  }
  throw new Error(`the schedule "${s.expression}" has no run in the next ${HORIZON_DAYS / 366} years`);
}

/** The step n of a field that is `*\/n` over its whole range (1 for `*`), or undefined. */
function step(values: readonly number[], size: number): number | undefined {
  if (values.length < 2 || values[0] !== 0) return undefined;
  const n = values[1]! - values[0]!;
  if (size % n !== 0 || values.length !== size / n) return undefined;
  return values.every((v, i) => v === i * n) ? n : undefined;
}

const every = (n: number, unit: string) => (n === 1 ? `every ${unit}` : `every ${n} ${unit}s`);
const two = (n: number) => String(n).padStart(2, '0');

function describe(s: Omit<Schedule, 'words'>): string {
  const anyDay = s.dayOfMonth.size === 31 && s.month.size === 12 && s.dayOfWeek.size === 7;
  if (!anyDay) return `${s.expression} (cron, ${SCHEDULE_TIME_ZONE})`;
  const seconds = step(s.second, 60);
  const minutes = step(s.minute, 60);
  const hours = step(s.hour, 24);
  if (seconds !== undefined && minutes === 1 && hours === 1) return every(seconds, 'second');
  const onTheMinute = s.second.length === 1 && s.second[0] === 0;
  if (onTheMinute && minutes !== undefined && hours === 1) return every(minutes, 'minute');
  if (onTheMinute && s.minute.length === 1 && hours !== undefined) return `${every(hours, 'hour')} at :${two(s.minute[0]!)}`;
  if (onTheMinute && s.minute.length === 1 && s.hour.length === 1) return `every day at ${two(s.hour[0]!)}:${two(s.minute[0]!)} ${SCHEDULE_TIME_ZONE}`;
  return `${s.expression} (cron, ${SCHEDULE_TIME_ZONE})`;
}
