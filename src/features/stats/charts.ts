/**
 * Server-rendered bar charts: the geometry is computed here, the SVG and its table are written by
 * views/stats/_bar-chart.eta. No client-side chart library: the page works without JavaScript, and the
 * same numbers are there as a table for screen readers and for anyone who wants them exactly.
 */

export interface ChartSeries {
  label: string;
  /** CSS class of its bars (colour). */
  cls: string;
  /** Drawn below the axis (losses: unsubscribes, bounces). */
  below?: boolean;
}

export interface ChartInput {
  id: string;
  title: string;
  description: string;
  series: ChartSeries[];
  /** One group (a stacked bar) per category, values in series order. */
  groups: Array<{ label: string; values: number[] }>;
  /** Label every n-th group on the x axis (the table has them all). */
  labelEvery?: number;
}

export interface Bar {
  x: number;
  y: number;
  w: number;
  h: number;
  cls: string;
  tip: string;
}

export interface BarChart extends ChartInput {
  width: number;
  height: number;
  baseline: number;
  bars: Bar[];
  xLabels: Array<{ x: number; text: string }>;
  yLabels: Array<{ y: number; text: string }>;
  empty: boolean;
}

const WIDTH = 720;
const HEIGHT = 220;
const LEFT = 44;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 26;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

function formatCount(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)}k` : n.toLocaleString('en');
}

export function barChart(input: ChartInput): BarChart {
  const up = input.groups.map((g) => g.values.reduce((s, v, i) => s + (input.series[i]?.below ? 0 : v), 0));
  const down = input.groups.map((g) => g.values.reduce((s, v, i) => s + (input.series[i]?.below ? v : 0), 0));
  const maxUp = niceMax(Math.max(0, ...up));
  const maxDown = Math.max(0, ...down) > 0 ? niceMax(Math.max(...down)) : 0;
  const plot = HEIGHT - TOP - BOTTOM;
  const scale = plot / (maxUp + maxDown);
  const baseline = TOP + maxUp * scale;
  const n = Math.max(1, input.groups.length);
  const slot = (WIDTH - LEFT - RIGHT) / n;
  const w = Math.max(1, slot * 0.8);
  const bars: Bar[] = [];
  input.groups.forEach((g, gi) => {
    const x = LEFT + gi * slot + (slot - w) / 2;
    let above = baseline;
    let below = baseline;
    g.values.forEach((v, si) => {
      const s = input.series[si]!;
      if (v <= 0) return;
      const h = v * scale;
      if (s.below) {
        bars.push({ x, y: below, w, h, cls: s.cls, tip: `${g.label}: ${v} ${s.label.toLowerCase()}` });
        below += h;
      } else {
        above -= h;
        bars.push({ x, y: above, w, h, cls: s.cls, tip: `${g.label}: ${v} ${s.label.toLowerCase()}` });
      }
    });
  });
  const every = input.labelEvery ?? Math.max(1, Math.ceil(n / 8));
  const xLabels = input.groups.flatMap((g, gi) => (gi % every === 0 ? [{ x: LEFT + gi * slot + slot / 2, text: g.label }] : []));
  const yLabels = [{ y: TOP, text: formatCount(maxUp) }, { y: baseline, text: '0' }];
  if (maxDown > 0) yLabels.push({ y: HEIGHT - BOTTOM, text: `−${formatCount(maxDown)}` });
  const empty = input.groups.every((g) => g.values.every((v) => v === 0));
  return { ...input, width: WIDTH, height: HEIGHT, baseline, bars, xLabels, yLabels, empty };
}
