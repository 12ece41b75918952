import ipaddr from 'ipaddr.js';
import { isbot } from 'isbot';
import type { HitKind, HitVerdict } from '../../db/tables/tracking.js';

/**
 * Machine or person: every hit gets a verdict when it is recorded, and only the verdict is kept (the IP
 * address and user agent live in memory for the few minutes the burst and canary rules look back).
 *
 * At request time, from the request alone: HEAD, the canary link, Apple Mail Privacy Protection (its bare
 * `Mozilla/5.0` agent or Apple's egress ranges), mail providers' image proxies, and bot or scanner agents.
 * Then, once a hit has waited out the burst window, from what came around it (see HitContext): several
 * links of one message within seconds, the canary from the same address, a click right after delivery.
 */

/** Only these count as a person (a proxy open is a real reader whose provider fetched the image). */
export const HUMAN_VERDICTS: readonly HitVerdict[] = ['human', 'proxy_open'];

export function isHuman(verdict: HitVerdict): boolean {
  return verdict === 'human' || verdict === 'proxy_open';
}

/** What the stats page says about each verdict. */
export const VERDICT_EXPLANATIONS: Record<HitVerdict, string> = {
  human: 'A person, as far as Gazette can tell.',
  proxy_open: "A reader's mail provider (Gmail, Yahoo) fetched the image when they opened the message: counted as an open.",
  apple_mpp: 'Apple Mail Privacy Protection loads every image in advance, whether or not the message is read.',
  scanner_head: 'A HEAD request: link checkers and security gateways ask for headers only.',
  scanner_ua: 'A bot or security scanner by its user agent (Mimecast, Proofpoint, curl, …).',
  scanner_burst: 'Several links of one message followed within two seconds: a security gateway checking every link.',
  canary: 'The hidden link no person can see was followed, or this hit came from the machine that followed it.',
  prefetch_window: 'A click within seconds of delivery, before any open: a gateway scanning the message on arrival.',
};

/**
 * Apple's 17.0.0.0/8 and the iCloud Private Relay egress blocks MPP is widely reported from. Refreshing
 * the full list is an operator's job; these catch the bulk.
 */
const APPLE_RANGES = ['17.0.0.0/8', '104.28.0.0/16', '172.224.0.0/12', '2a02:26f7::/32', '2620:149::/32'].map((r) => ipaddr.parseCIDR(r));

const PROXY_UA = /GoogleImageProxy|YahooMailProxy|ggpht\.com/i;
const SCANNER_UA =
  /mimecast|proofpoint|barracuda|python-requests|python-urllib|curl\/|wget\/|go-http-client|java\/|okhttp|libwww|headlesschrome|phantomjs|trendmicro|symantec|forcepoint|cisco|ironport|fireeye|microsoft office|ms-office|safelinks/i;

function inAppleRange(ip: string): boolean {
  if (!ipaddr.isValid(ip)) return false;
  let addr = ipaddr.parse(ip);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  return APPLE_RANGES.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
}

export interface RequestFacts {
  kind: HitKind;
  method: string;
  userAgent: string;
  ip: string;
}

/** The verdict from the request alone; undefined when only the context can tell (see HitContext). */
export function requestVerdict(r: RequestFacts): HitVerdict | undefined {
  if (r.method === 'HEAD') return 'scanner_head';
  if (r.kind === 'canary') return 'canary';
  const ua = r.userAgent.trim();
  if (r.kind === 'open') {
    if (ua === 'Mozilla/5.0' || inAppleRange(r.ip)) return 'apple_mpp';
    if (PROXY_UA.test(ua)) return 'proxy_open';
  }
  if (ua === '' || SCANNER_UA.test(ua) || isbot(ua)) return 'scanner_ua';
  return undefined;
}

export const BURST_WINDOW_MS = 2_000;
export const BURST_LINKS = 3;
export const CANARY_WINDOW_MS = 10 * 60_000;
export const PREFETCH_WINDOW_MS = 10_000;

/** One hit as the context rules see it. */
export interface ContextHit {
  at: number;
  postId: number;
  kind: HitKind;
  linkId: number | null;
  deliveryId: number | null;
  ip: string;
}

const sourceKey = (h: ContextHit) => (h.deliveryId !== null ? `${h.postId}:d${h.deliveryId}` : `${h.postId}:${h.ip}`);

/**
 * Times in ascending order, dropped from the front as they age out. The rules ask "is there one within
 * w of t?", which a binary search answers without walking the list: one address (a NAT, a gateway, the
 * benchmark) can have tens of thousands of recent hits, and walking them for every new hit made each
 * flush quadratic.
 */
class Times {
  private t: number[] = [];
  private head = 0;

  get size(): number {
    return this.t.length - this.head;
  }

  get first(): number | undefined {
    return this.t[this.head];
  }

  add(at: number): void {
    // Hits arrive in time order, so this is a push but for a clock that stepped back.
    if (this.size === 0 || this.t[this.t.length - 1]! <= at) this.t.push(at);
    else this.t.splice(this.lowerBound(at), 0, at);
  }

  remove(at: number): void {
    if (this.t[this.head] === at) this.head++;
    else {
      const i = this.lowerBound(at);
      if (this.t[i] === at) this.t.splice(i, 1);
    }
    // Moving the front by an offset instead of shift(): a long array cannot be trimmed in place.
    if (this.head > 1024 && this.head * 2 > this.t.length) {
      this.t = this.t.slice(this.head);
      this.head = 0;
    }
  }

  /** Whether some time lies within `window` of `at`. */
  near(at: number, window: number): boolean {
    const i = this.lowerBound(at - window);
    return i < this.t.length && this.t[i]! <= at + window;
  }

  private lowerBound(x: number): number {
    let lo = this.head;
    let hi = this.t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** One message's recent hits: click times per link and open times. */
interface SourceHits {
  clicks: Map<number, Times>;
  opens: Times;
  count: number;
}

function timesOf<K>(map: Map<K, Times>, key: K): Times {
  let times = map.get(key);
  if (!times) map.set(key, (times = new Times()));
  return times;
}

function dropTime<K>(map: Map<K, Times>, key: K, at: number): void {
  const times = map.get(key);
  times?.remove(at);
  if (times?.size === 0) map.delete(key);
}

/** Hits by message (the delivery, or the post and address when anonymous), and canary hits by address and delivery. */
class HitIndex {
  readonly bySource = new Map<string, SourceHits>();
  readonly canaries = new Map<string, Times>();

  add(h: ContextHit): void {
    const key = sourceKey(h);
    let source = this.bySource.get(key);
    if (!source) this.bySource.set(key, (source = { clicks: new Map(), opens: new Times(), count: 0 }));
    source.count++;
    if (h.kind === 'open') source.opens.add(h.at);
    if (h.kind === 'click' && h.linkId !== null) timesOf(source.clicks, h.linkId).add(h.at);
    if (h.kind !== 'canary') return;
    for (const k of HitIndex.canaryKeys(h)) timesOf(this.canaries, k).add(h.at);
  }

  remove(h: ContextHit): void {
    const key = sourceKey(h);
    const source = this.bySource.get(key);
    if (source) {
      if (h.kind === 'open') source.opens.remove(h.at);
      if (h.kind === 'click' && h.linkId !== null) dropTime(source.clicks, h.linkId, h.at);
      if (--source.count === 0) this.bySource.delete(key);
    }
    if (h.kind !== 'canary') return;
    for (const k of HitIndex.canaryKeys(h)) dropTime(this.canaries, k, h.at);
  }

  static canaryKeys(h: ContextHit): string[] {
    return h.deliveryId !== null ? [`ip:${h.ip}`, `d:${h.deliveryId}`] : [`ip:${h.ip}`];
  }
}

/**
 * The recent hits (last CANARY_WINDOW_MS) the context rules look back on, kept in memory only, bounded
 * by `maxHits` (the oldest go first).
 */
export class HitContext {
  private readonly queue: ContextHit[] = [];
  private head = 0;
  private readonly index = new HitIndex();

  constructor(private readonly maxHits = 100_000) {}

  remember(hits: ContextHit[], now: number): void {
    for (const h of hits) {
      this.queue.push(h);
      this.index.add(h);
    }
    const cutoff = now - CANARY_WINDOW_MS;
    while (this.head < this.queue.length && (this.queue[this.head]!.at < cutoff || this.queue.length - this.head > this.maxHits)) {
      this.index.remove(this.queue[this.head]!);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  /**
   * Verdicts for a batch of hits that passed the request-time rules (`undefined` there), from their
   * neighbours: the recent hits and the batch itself, which holds every hit that arrived up to
   * BURST_WINDOW_MS after each of them. `sentAt` gives when a delivery's message went out.
   */
  judge(batch: ContextHit[], sentAt: (deliveryId: number) => number | null): HitVerdict[] {
    const pending = new HitIndex();
    for (const h of batch) pending.add(h);
    return batch.map((h) => this.judgeOne(h, pending, h.deliveryId === null ? null : sentAt(h.deliveryId)));
  }

  private judgeOne(hit: ContextHit, pending: HitIndex, sentAt: number | null): HitVerdict {
    for (const index of [this.index, pending]) {
      for (const k of HitIndex.canaryKeys(hit)) {
        if (index.canaries.get(k)?.near(hit.at, CANARY_WINDOW_MS)) return 'canary';
      }
    }
    if (hit.kind !== 'click') return 'human';
    const links = new Set<number>();
    let opened = false;
    for (const index of [this.index, pending]) {
      const source = index.bySource.get(sourceKey(hit));
      if (!source) continue;
      for (const [linkId, times] of source.clicks) {
        if (links.size < BURST_LINKS && times.near(hit.at, BURST_WINDOW_MS)) links.add(linkId);
      }
      if ((source.opens.first ?? Infinity) <= hit.at) opened = true;
    }
    if (links.size >= BURST_LINKS) return 'scanner_burst';
    if (sentAt !== null && hit.at - sentAt < PREFETCH_WINDOW_MS && !opened) return 'prefetch_window';
    return 'human';
  }
}
