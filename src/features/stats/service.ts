import type { Db } from '../../db/database.js';
import type { HitVerdict, PostStatsRow, TrackingMode } from '../../db/tables/tracking.js';
import { NotFoundError } from '../../lib/errors.js';
import { isHuman, VERDICT_EXPLANATIONS } from '../tracking/classify.js';
import { CSV_BOM, csvLine } from '../subscribers/csv.js';
import { barChart, type BarChart } from './charts.js';
import * as repo from './repository.js';
import { DAY_MS, HOUR_MS } from './rollup-repository.js';

/**
 * The post stats page, its CSV, the dashboard's growth chart and posts, and a reader's activity: all from
 * the roll-ups (src/features/stats/rollups.ts), so a page costs the same for 100 or 100,000 recipients.
 */

const TIMELINE_HOURS = 72;
const COMPARE_POSTS = 10;
const TOP_LINKS = 20;
const GROWTH_DAYS = 30;

export interface Rates {
  delivered: number;
  opens: number | null;
  clicks: number | null;
  unsubscribed: number;
  bounced: number;
  complained: number;
}

/** Per delivered message (per recipient for bounces); null when nothing was delivered. */
export function ratesOf(s: PostStatsRow | null, mode: TrackingMode): Rates | null {
  if (!s || s.recipients === 0) return null;
  const per = (n: number, of: number) => (of > 0 ? n / of : 0);
  const personal = mode === 'subscriber' && s.unique_openers > 0;
  return {
    delivered: per(s.delivered, s.recipients),
    opens: mode === 'off' ? null : per(personal ? s.unique_openers : s.human_opens, s.delivered),
    clicks: mode === 'off' ? null : per(personal ? s.unique_clickers : s.human_clicks, s.delivered),
    unsubscribed: per(s.unsubscribed, s.delivered),
    bounced: per(s.bounced, s.recipients),
    complained: per(s.complained, s.delivered),
  };
}

export interface MachineLine {
  verdict: HitVerdict;
  opens: number;
  clicks: number;
  explanation: string;
}

function timeline(id: string, title: string, hours: repo.HourRow[], kind: 'open' | 'click', start: number): BarChart {
  const groups = Array.from({ length: TIMELINE_HOURS }, (_, i) => ({ label: `+${i} h`, values: [0, 0] }));
  const first = start - (start % HOUR_MS);
  for (const h of hours) {
    const i = Math.floor((h.hour - first) / HOUR_MS);
    if (h.kind !== kind || i < 0 || i >= TIMELINE_HOURS) continue;
    groups[i]!.values[isHuman(h.verdict) ? 0 : 1]! += h.hits;
  }
  const noun = kind === 'open' ? 'opens' : 'clicks';
  return barChart({
    id,
    title,
    description: `${noun[0]!.toUpperCase()}${noun.slice(1)} per hour in the first ${TIMELINE_HOURS} hours after sending, people and machines stacked.`,
    series: [
      { label: `Human ${noun}`, cls: 'human' },
      { label: `Machine ${noun}`, cls: 'machine' },
    ],
    groups,
    labelEvery: 12,
  });
}

export function createStatsService(deps: { db: Db; clock: { now(): number } }) {
  const { db } = deps;

  async function post(postId: number) {
    const header = await repo.findPostHeader(db, postId);
    if (!header) throw new NotFoundError('That post does not exist.');
    const mode = header.tracking_mode;
    const stats = (await repo.findPostStats(db, postId)) ?? null;
    const hours = await repo.postHours(db, postId);
    const start = Number(header.started_at ?? header.sent_at ?? deps.clock.now());
    const machines = new Map<HitVerdict, MachineLine>();
    for (const h of hours) {
      if (isHuman(h.verdict)) continue;
      const line = machines.get(h.verdict) ?? { verdict: h.verdict, opens: 0, clicks: 0, explanation: VERDICT_EXPLANATIONS[h.verdict] };
      if (h.kind === 'open') line.opens += h.hits;
      else line.clicks += h.hits;
      machines.set(h.verdict, line);
    }
    const proxyOpens = hours.filter((h) => h.verdict === 'proxy_open').reduce((s, h) => s + h.hits, 0);
    const earlier = await repo.recentPosts(db, { newsletterId: Number(header.newsletter_id), limit: COMPARE_POSTS, before: start });
    const compared = earlier.map((p) => ({ ...p, rates: ratesOf(p.stats, p.mode) })).filter((p) => p.rates !== null);
    const average = averageRates(compared.map((p) => p.rates!));
    return {
      post: header,
      mode,
      stats,
      rates: ratesOf(stats, mode),
      opensChart: timeline(`opens-${postId}`, 'Opens in the first 72 hours', hours, 'open', start),
      clicksChart: timeline(`clicks-${postId}`, 'Clicks in the first 72 hours', hours, 'click', start),
      machines: [...machines.values()].sort((a, b) => b.opens + b.clicks - (a.opens + a.clicks)),
      proxyOpens,
      links: await repo.topLinks(db, postId, TOP_LINKS),
      compared,
      average,
    };
  }

  async function* postCsv(postId: number): AsyncGenerator<string> {
    const s = await post(postId);
    yield CSV_BOM + csvLine(['section', 'item', 'value']);
    const t = s.stats;
    const summary: Array<[string, number | string]> = [
      ['Subject', s.post.subject],
      ['Recipients', t?.recipients ?? 0],
      ['Delivered', t?.delivered ?? 0],
      ['Failed', t?.failed ?? 0],
      ['Bounced', t?.bounced ?? 0],
      ['Complained', t?.complained ?? 0],
      ['Unsubscribed', t?.unsubscribed ?? 0],
      ['Human opens', t?.human_opens ?? 0],
      ['Machine opens', t?.machine_opens ?? 0],
      ['Unique human openers (consenting readers)', t?.unique_openers ?? 0],
      ['Human clicks', t?.human_clicks ?? 0],
      ['Machine clicks', t?.machine_clicks ?? 0],
      ['Unique human clickers (consenting readers)', t?.unique_clickers ?? 0],
    ];
    let out = summary.map(([k, v]) => csvLine(['summary', k, v])).join('');
    for (const m of s.machines) out += csvLine(['machine opens', m.verdict, m.opens]) + csvLine(['machine clicks', m.verdict, m.clicks]);
    for (const l of s.links) out += csvLine(['link human clicks', l.url, l.humanClicks]) + csvLine(['link machine clicks', l.url, l.machineClicks]);
    for (const [chart, name] of [[s.opensChart, 'opens'], [s.clicksChart, 'clicks']] as const) {
      chart.groups.forEach((g) => {
        if (g.values[0]! + g.values[1]! > 0) out += csvLine([`human ${name} per hour`, g.label, g.values[0]]) + csvLine([`machine ${name} per hour`, g.label, g.values[1]]);
      });
    }
    yield out;
  }

  async function dashboard(newsletterId: number | undefined) {
    const now = deps.clock.now();
    const today = now - (now % DAY_MS);
    const from = today - (GROWTH_DAYS - 1) * DAY_MS;
    const rows = new Map((await repo.newsletterDays(db, newsletterId, from)).map((r) => [r.day, r]));
    const active = await repo.activeSubscribers(db, newsletterId);
    const days = Array.from({ length: GROWTH_DAYS }, (_, i) => {
      const day = from + i * DAY_MS;
      const r = rows.get(day);
      const subscribed = r?.subscribed ?? 0;
      const lost = (r?.unsubscribed ?? 0) + (r?.bounced ?? 0);
      return { day, label: new Date(day).toISOString().slice(5, 10), subscribed, unsubscribed: r?.unsubscribed ?? 0, bounced: r?.bounced ?? 0, net: subscribed - lost, total: 0 };
    });
    // Totals at each day's end, walked back from today's count.
    let total = active;
    for (let i = days.length - 1; i >= 0; i--) {
      days[i]!.total = total;
      total -= days[i]!.net;
    }
    const chart = barChart({
      id: `growth-${newsletterId ?? 'all'}`,
      title: `Subscribers over the last ${GROWTH_DAYS} days`,
      description: 'New subscribers per day above the line; unsubscribes and bounces below it.',
      series: [
        { label: 'New', cls: 'human' },
        { label: 'Unsubscribed', cls: 'loss', below: true },
        { label: 'Bounced', cls: 'bounce', below: true },
      ],
      groups: days.map((d) => ({ label: d.label, values: [d.subscribed, d.unsubscribed, d.bounced] })),
      labelEvery: 5,
    });
    const newsletters = await repo.newsletterChoices(db);
    const recent = await repo.recentPosts(db, { ...(newsletterId !== undefined ? { newsletterId } : {}), limit: COMPARE_POSTS });
    const posts = recent.map((p) => ({ ...p, rates: ratesOf(p.stats, p.mode) }));
    const net = days.reduce((s, d) => s + d.net, 0);
    return { chart, days, active, net, posts, newsletters, newsletterId };
  }

  async function activity(subscriberId: number) {
    const subscriber = await repo.findSubscriberLabel(db, subscriberId);
    if (!subscriber) throw new NotFoundError('That subscriber does not exist.');
    return { subscriber, hits: await repo.subscriberActivity(db, subscriberId, 50) };
  }

  return { post, postCsv, dashboard, activity };
}

export type StatsService = ReturnType<typeof createStatsService>;

function averageRates(list: Rates[]): Rates | null {
  if (list.length === 0) return null;
  const avg = (pick: (r: Rates) => number | null) => {
    const values = list.map(pick).filter((v): v is number => v !== null);
    return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  };
  return {
    delivered: avg((r) => r.delivered)!,
    opens: avg((r) => r.opens),
    clicks: avg((r) => r.clicks),
    unsubscribed: avg((r) => r.unsubscribed)!,
    bounced: avg((r) => r.bounced)!,
    complained: avg((r) => r.complained)!,
  };
}
