import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TrackingMode } from '../db/tables/tracking.js';
import { isId } from '../lib/params.js';

/**
 * Open and click tracking, as pure functions shared by the sending engine (which rewrites a post's HTML
 * once, when the post is compiled) and the tracking routes (which verify what comes back).
 *
 * A token is base64url(kind + id in base 36) followed by 16 characters of HMAC-SHA256 (96 bits): opaque,
 * short, and not enumerable. Kinds: `l` a link (id: tracked_links.id), `o` a post's open pixel and `k` a
 * post's canary link (id: the post). In per-subscriber mode a consenting reader's URLs carry a second,
 * personal token after a dot: the delivery id, signed together with the post id so that it cannot be moved
 * to another post. Everyone else gets the shared, anonymous URLs, byte for byte the same for every reader.
 */

export const TRACKING_MODES: readonly TrackingMode[] = ['off', 'aggregate', 'subscriber'];

/** The merge field the per-recipient suffix goes into: `.personalToken`, or nothing. */
export const PERSONAL_SUFFIX_FIELD = 'tracking_id';

export type TokenKind = 'l' | 'o' | 'k';

const MAC_CHARS = 16;
const MAC_BYTES = 12;
const PAYLOAD = /^[0-9a-z]{1,12}$/;
const TOKEN = /^[A-Za-z0-9_-]{18,40}$/;

/** The tracking key, derived from the app's secret so that tracking tokens sign nothing else. */
export function trackingKey(secretKey: string): string {
  return createHmac('sha256', secretKey).update('gazette:tracking:v1').digest('base64url');
}

function mac(key: string, message: string): string {
  return createHmac('sha256', key).update(message).digest().subarray(0, MAC_BYTES).toString('base64url');
}

function macMatches(key: string, message: string, given: string): boolean {
  const want = Buffer.from(mac(key, message));
  const got = Buffer.from(given);
  return got.length === want.length && timingSafeEqual(got, want);
}

export function signToken(key: string, kind: TokenKind, id: number): string {
  const payload = `${kind}${id.toString(36)}`;
  return Buffer.from(payload).toString('base64url') + mac(key, payload);
}

export function personalToken(key: string, postId: number, deliveryId: number): string {
  const payload = `d${deliveryId.toString(36)}`;
  return Buffer.from(payload).toString('base64url') + mac(key, `${payload}:${postId}`);
}

function splitToken(token: string): { payload: string; mac: string } | undefined {
  if (!TOKEN.test(token)) return undefined;
  const payload = Buffer.from(token.slice(0, -MAC_CHARS), 'base64url').toString('latin1');
  return { payload, mac: token.slice(-MAC_CHARS) };
}

/** A token's kind and id when its signature holds; undefined for anything forged, truncated or malformed. */
export function verifyToken(key: string, token: string): { kind: TokenKind; id: number } | undefined {
  const parts = splitToken(token);
  if (!parts) return undefined;
  const kind = parts.payload[0];
  const id = parts.payload.slice(1);
  if ((kind !== 'l' && kind !== 'o' && kind !== 'k') || !PAYLOAD.test(id)) return undefined;
  if (!macMatches(key, parts.payload, parts.mac) || !isId(parseInt(id, 36))) return undefined;
  return { kind, id: parseInt(id, 36) };
}

/** The delivery id of a personal token made for this post; undefined otherwise. */
export function verifyPersonal(key: string, token: string, postId: number): number | undefined {
  const parts = splitToken(token);
  if (!parts || parts.payload[0] !== 'd' || !PAYLOAD.test(parts.payload.slice(1))) return undefined;
  const id = parseInt(parts.payload.slice(1), 36);
  return macMatches(key, `${parts.payload}:${postId}`, parts.mac) && isId(id) ? id : undefined;
}

/** `shared[.personal]` as it appears in a tracking URL. */
export function splitTrackingPath(value: string): { shared: string; personal?: string } | undefined {
  const [shared, personal, extra] = value.split('.');
  if (!shared || extra !== undefined || personal === '') return undefined;
  return personal === undefined ? { shared } : { shared, personal };
}

// ---------------------------------------------------------------------------------------------
// Rewriting a post's HTML

const ANCHOR = /<a\b([^>]*)>/gi;
const HREF = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')/i;
const NOTRACK_ATTR = /\sdata-gz-notrack\b(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?/i;
const NOTRACK_PARAM = /([?&])gz_notrack=1(&?)/;

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|quot|apos|lt|gt);/gi, (whole, e: string) => {
    const lower = e.toLowerCase();
    if (lower === 'amp') return '&';
    if (lower === 'quot') return '"';
    if (lower === 'apos') return "'";
    if (lower === 'lt') return '<';
    if (lower === 'gt') return '>';
    const code = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
  });
}

/** Our own reader pages: tracking them would put a redirect in front of the reader's own controls. */
function isReaderPage(url: string, baseUrl: string): boolean {
  if (!url.startsWith(`${baseUrl}/`)) return false;
  const path = url.slice(baseUrl.length);
  return /^\/(unsubscribe|preferences|confirm|c|o)\//.test(path) || /^\/n\/[^/]+\/archive\//.test(path);
}

type AnchorVisit = { kind: 'track'; url: string } | { kind: 'exempt'; tag: string } | { kind: 'keep' };

function visitAnchor(attrs: string, baseUrl: string): AnchorVisit {
  const href = HREF.exec(attrs);
  if (!href) return { kind: 'keep' };
  const raw = href[1] ?? href[2] ?? '';
  if (NOTRACK_ATTR.test(attrs)) return { kind: 'exempt', tag: `<a${attrs.replace(NOTRACK_ATTR, '')}>` };
  if (NOTRACK_PARAM.test(raw)) {
    const cleaned = raw.replace(NOTRACK_PARAM, (_m, sep: string, more: string) => (more ? sep : '')).replace(/[?&]$/, '');
    return { kind: 'exempt', tag: `<a${attrs.replace(raw, cleaned)}>` };
  }
  // Merge fields (the reader's own unsubscribe, preferences and web links) are never tracked.
  if (raw.includes('{{')) return { kind: 'keep' };
  const url = decodeEntities(raw).trim();
  if (!/^https?:\/\/[^\s]+$/i.test(url) || isReaderPage(url, baseUrl)) return { kind: 'keep' };
  return { kind: 'track', url };
}

/** The distinct URLs of a post's HTML that tracking would rewrite, in order of first appearance. */
export function trackableLinks(html: string, baseUrl: string): string[] {
  const urls = new Set<string>();
  for (const m of html.matchAll(ANCHOR)) {
    const v = visitAnchor(m[1] ?? '', baseUrl);
    if (v.kind === 'track') urls.add(v.url);
  }
  return [...urls];
}

export interface RewriteOptions {
  mode: Exclude<TrackingMode, 'off'>;
  baseUrl: string;
  key: string;
  postId: number;
  /** tracked_links ids of the URLs trackableLinks found. */
  linkIds: ReadonlyMap<string, number>;
}

/**
 * The post's HTML with every trackable link sent through `/c/…`, an open pixel and a hidden canary link
 * added before `</body>`. In per-subscriber mode each tracking URL ends in the personal-suffix merge field.
 * Exempt links lose their marker (attribute or `gz_notrack=1`) and are otherwise left as written.
 */
export function rewriteForTracking(html: string, o: RewriteOptions): string {
  const suffix = o.mode === 'subscriber' ? `{{ ${PERSONAL_SUFFIX_FIELD} }}` : '';
  const rewritten = html.replace(ANCHOR, (tag, attrs: string) => {
    const v = visitAnchor(attrs, o.baseUrl);
    if (v.kind === 'exempt') return v.tag;
    if (v.kind === 'keep') return tag;
    const id = o.linkIds.get(v.url);
    if (id === undefined) return tag;
    return `<a${attrs.replace(HREF, `href="${o.baseUrl}/c/${signToken(o.key, 'l', id)}${suffix}"`)}>`;
  });
  const pixel = `<img src="${o.baseUrl}/o/${signToken(o.key, 'o', o.postId)}${suffix}.gif" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0;">`;
  // Hidden from people (and screen readers); only a machine that fetches every link follows it.
  const canary = `<a href="${o.baseUrl}/c/${signToken(o.key, 'k', o.postId)}${suffix}" style="display:none;font-size:0;line-height:0;max-height:0;overflow:hidden;mso-hide:all;" aria-hidden="true" tabindex="-1">&#8203;</a>`;
  const at = rewritten.search(/<\/body>/i);
  return at === -1 ? `${rewritten}${canary}${pixel}` : `${rewritten.slice(0, at)}${canary}${pixel}${rewritten.slice(at)}`;
}
