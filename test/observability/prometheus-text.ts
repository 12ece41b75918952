import assert from 'node:assert/strict';

/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: every line is a HELP, a TYPE or a
 * sample of the family last declared; label values are quoted and escaped; histogram buckets rise and end
 * with +Inf equal to _count. It throws on anything else, so a test that reads /metrics also checks its syntax.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    assert.ok(m, `bad labels in: ${line}`);
    assert.ok(!(m[1]! in labels), `label ${m[1]} repeated in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const n = Number(text);
  assert.ok(text !== '' && Number.isFinite(n), `bad value in: ${line}`);
  return n;
}

export function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  let family: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') {
        assert.ok(!types.has(meta[2]!), `HELP of ${meta[2]} comes before its TYPE, once`);
        family = meta[2];
      } else {
        assert.equal(meta[2], family, `TYPE ${meta[2]} follows its HELP`);
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const base = types.get(family ?? '') === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
    assert.equal(base, family, `sample ${name} belongs to the family declared above it (${family})`);
    samples.push({ name, labels: m[2] ? parseLabels(m[2], line) : {}, value: parseValue(m[3]!, line) });
  }
  checkHistograms(samples, types);
  return { samples, types };
}

function checkHistograms(samples: Sample[], types: Map<string, string>): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      assert.ok(le !== undefined, `${family} bucket without le`);
      const key = JSON.stringify(rest);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, buckets] of series) {
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${family}${key} buckets rise`);
      assert.equal(buckets.at(-1)!.labels.le, '+Inf');
      const count = samples.find((x) => x.name === `${family}_count` && JSON.stringify(x.labels) === key);
      assert.equal(buckets.at(-1)!.value, count?.value, `${family}${key}: +Inf bucket equals _count`);
    }
  }
}

/** The value of the one sample with this name and these labels (among others), or undefined. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}
