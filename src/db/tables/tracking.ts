import type { Generated, Selectable } from 'kysely';

/** A newsletter's open and click tracking (see src/domain/tracking.ts). */
export type TrackingMode = 'off' | 'aggregate' | 'subscriber';

export type HitKind = 'open' | 'click' | 'canary';

/**
 * What a hit was judged to be when it arrived. Only `human` and `proxy_open` (a mail provider's image proxy
 * fetching for a reader who opened the message) count as a person; the rest are machines.
 */
export type HitVerdict = 'human' | 'proxy_open' | 'apple_mpp' | 'scanner_head' | 'scanner_ua' | 'scanner_burst' | 'canary' | 'prefetch_window';

export interface TrackedLinksTable {
  id: Generated<number>;
  post_id: number;
  url: string;
  url_hash: string;
  created_at: number;
}

export interface TrackingHitsTable {
  id: Generated<number>;
  post_id: number;
  kind: HitKind;
  link_id: number | null;
  delivery_id: number | null;
  subscriber_id: number | null;
  verdict: HitVerdict;
  created_at: number;
}

export type TrackingHitRow = Selectable<TrackingHitsTable>;

export interface PostHourStatsTable {
  post_id: number;
  /** Start of the hour, epoch ms (UTC). */
  hour: number;
  kind: HitKind;
  verdict: HitVerdict;
  hits: number;
}

export interface LinkStatsTable {
  link_id: number;
  post_id: number;
  human_clicks: number;
  machine_clicks: number;
  /** Distinct consenting readers who clicked (per-subscriber mode only). */
  human_clickers: number;
}

export interface PostStatsTable {
  post_id: number;
  recipients: number;
  delivered: number;
  failed: number;
  bounced: number;
  complained: number;
  unsubscribed: number;
  human_opens: number;
  machine_opens: number;
  human_clicks: number;
  machine_clicks: number;
  unique_openers: number;
  unique_clickers: number;
  refreshed_at: number;
}

export type PostStatsRow = Selectable<PostStatsTable>;

export interface NewsletterDayStatsTable {
  newsletter_id: number;
  /** Start of the day, epoch ms (UTC). */
  day: number;
  subscribed: number;
  unsubscribed: number;
  bounced: number;
  complained: number;
}

export type NewsletterDayStatsRow = Selectable<NewsletterDayStatsTable>;

export interface StatsWatermarksTable {
  name: string;
  until: number;
}
