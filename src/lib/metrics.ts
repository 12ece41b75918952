/**
 * A small Prometheus exposition module (text format 0.0.4): counters, gauges and histograms with fixed
 * buckets, kept in memory and rendered on a scrape. It has no dependencies, so the sending engine and the
 * job registry can count into it without importing anything of the app.
 *
 * Label values are whatever the caller hands over: callers pass bounded sets (route templates, outcome
 * names), never a URL, an address or an id, so the number of series stays small.
 */

export type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** The family's lines, without HELP and TYPE. */
  lines(): string[];
}

/** The seconds buckets of an HTTP request or a job run: from a fast page to a long import. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** `{a="1",b="2"}`, or nothing when there are no labels. */
function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k]!)}"`).join(',')}}`;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Series of one family, keyed by their label text (the same labels in the same order: callers keep it). */
class SeriesMap<T> {
  private readonly map = new Map<string, { labels: Labels; value: T }>();
  constructor(private readonly make: () => T) {}
  get(labels: Labels): T {
    const key = labelText(labels);
    let entry = this.map.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, value: this.make() };
      this.map.set(key, entry);
    }
    return entry.value;
  }
  entries() {
    return [...this.map.values()];
  }
}

/** A family of single values per label set: what counters and gauges have in common. */
abstract class ValueFamily implements Family {
  abstract readonly type: 'counter' | 'gauge';
  protected readonly series = new SeriesMap(() => ({ n: 0 }));
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  value(labels: Labels = {}): number {
    return this.series.get(labels).n;
  }
  lines(): string[] {
    return this.series.entries().map((e) => `${this.name}${labelText(e.labels)} ${formatValue(e.value.n)}`);
  }
}

export class Counter extends ValueFamily {
  readonly type = 'counter';
  inc(labels: Labels = {}, by = 1): void {
    this.series.get(labels).n += by;
  }
  /** One series, looked up once: for counts on a hot path, where building the label key each time would cost more than the count. */
  at(labels: Labels): { inc(by?: number): void } {
    const entry = this.series.get(labels);
    return { inc: (by = 1) => void (entry.n += by) };
  }
  /** A total kept elsewhere (an append-only table), read at scrape time. */
  set(labels: Labels, total: number): void {
    this.series.get(labels).n = total;
  }
}

export class Gauge extends ValueFamily {
  readonly type = 'gauge';
  set(labels: Labels, value: number): void {
    this.series.get(labels).n = value;
  }
}

interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram implements Family {
  readonly type = 'histogram';
  private readonly series: SeriesMap<HistogramSeries>;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = DURATION_BUCKETS,
  ) {
    this.series = new SeriesMap(() => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }
  observe(labels: Labels, value: number): void {
    this.record(this.series.get(labels), value);
  }
  /** One series, looked up once (see Counter.at). */
  at(labels: Labels): { observe(value: number): void } {
    const entry = this.series.get(labels);
    return { observe: (value) => this.record(entry, value) };
  }
  private record(s: HistogramSeries, value: number): void {
    s.sum += value;
    s.count += 1;
    // Counts per bucket (not cumulative) here; rendering adds them up, so an observation costs one increment.
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]! += 1;
  }
  count(labels: Labels = {}): number {
    return this.series.get(labels).count;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const { labels, value } of this.series.entries()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += value.counts[i]!;
        out.push(`${this.name}_bucket${labelText({ ...labels, le: formatValue(bound) })} ${cumulative}`);
      });
      out.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${value.count}`);
      out.push(`${this.name}_sum${labelText(labels)} ${formatValue(value.sum)}`);
      out.push(`${this.name}_count${labelText(labels)} ${value.count}`);
    }
    return out;
  }
}

/** The families of one process, rendered in registration order. */
export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  private add<F extends Family>(family: F): F {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(family.name)) throw new Error(`invalid metric name ${family.name}`);
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.families.set(family.name, family);
    return family;
  }

  /** The text a Prometheus scrape reads (Content-Type: CONTENT_TYPE). */
  render(): string {
    const out: string[] = [];
    for (const f of this.families.values()) {
      const lines = f.lines();
      if (lines.length === 0) continue;
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`, ...lines);
    }
    return `${out.join('\n')}\n`;
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
