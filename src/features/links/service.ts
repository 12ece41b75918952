import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { LinkCheckRow } from '../../db/tables/link-checks.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import type { PostRow } from '../../db/tables/posts.js';
import type { UserRow } from '../../db/tables/users.js';
import type { Clock } from '../../lib/clock.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import type { PostCheck } from '../posts/checks.js';
import type { RenderedPost } from '../posts/email.js';
import { MAX_BODY_CHARS } from '../posts/schemas.js';
import type { PostService } from '../posts/service.js';
import type { LinkChecker, LinkCheckResult } from './checker.js';
import { extractLinks, MAX_CHECKED_LINKS, type DraftLink } from './extract.js';
import { BROKEN_OUTCOMES, cacheLifetimeMs, KIND_LABELS, OUTCOME_LABELS, type OutcomeLabel } from './outcomes.js';
import { deleteLinkChecksExpiredBefore, findLinkChecks, saveLinkCheck, scheduledPostIdsUntil } from './repository.js';

/**
 * The links of a draft and what their last checks found. Checks are cached per URL (not per post): the
 * same link in next week's issue needs no new request while its result is fresh.
 */

type Writer = Pick<UserRow, 'name' | 'email'>;

export interface LinkRow extends DraftLink {
  /** A short, stable id for the row (a prefix of the URL's hash). */
  id: string;
  status: OutcomeLabel;
  /** The last check (web links only), fresh or not. */
  check: LinkCheckRow | undefined;
  /** A web link the checker may fetch (not one past the per-draft limit). */
  checkable: boolean;
  /** A checkable link whose result is missing or expired: a check is due. */
  due: boolean;
}

export interface LinkReport {
  post: PostRow;
  newsletter: NewsletterRow;
  rows: LinkRow[];
  counts: { total: number; due: number; errors: number; warnings: number };
}

export const urlHash = (url: string) => createHash('sha256').update(url).digest('hex');

const KEEP_EXPIRED_MS = 30 * 24 * 3_600_000;

const NOT_CHECKED: OutcomeLabel = { label: 'Not checked yet', severity: 'info' };

function toRows(links: DraftLink[], checks: LinkCheckRow[], now: number): LinkRow[] {
  const byHash = new Map(checks.map((c) => [c.url_hash, c]));
  return links.map((link, i) => {
    const hash = urlHash(link.url);
    const id = hash.slice(0, 16);
    const unchecked = { ...link, id, check: undefined, checkable: false, due: false };
    if (link.kind !== 'web') return { ...unchecked, status: KIND_LABELS[link.kind] };
    if (i >= MAX_CHECKED_LINKS) return { ...unchecked, status: { label: 'Not checked: too many links', severity: 'info' } };
    const check = byHash.get(hash);
    const status = check ? OUTCOME_LABELS[check.outcome] : NOT_CHECKED;
    return { ...link, id, status, check, checkable: true, due: !check || Number(check.expires_at) <= now };
  });
}

function countRows(rows: LinkRow[]): LinkReport['counts'] {
  return {
    total: rows.length,
    due: rows.filter((r) => r.due).length,
    errors: rows.filter((r) => r.status.severity === 'error').length,
    warnings: rows.filter((r) => r.status.severity === 'warning').length,
  };
}

/** The pre-send checks' part: links the last check found broken. Reads the cache only; never fetches. */
export function createLinkFindings(deps: { db: Db; baseUrl: string }) {
  return async function brokenLinkChecks(rendered: Pick<RenderedPost, 'html'>): Promise<PostCheck[]> {
    const links = extractLinks(rendered.html, deps.baseUrl).filter((l) => l.kind === 'web');
    const checks = await findLinkChecks(deps.db, links.map((l) => urlHash(l.url)));
    const broken = checks.filter((c) => BROKEN_OUTCOMES.includes(c.outcome));
    const shown = broken.slice(0, 5).map((c): PostCheck => ({
      level: 'warning',
      source: 'links',
      message: `The last link check found “${shorten(c.url)}” ${OUTCOME_LABELS[c.outcome].label.toLowerCase()}: ${c.detail}`,
    }));
    if (broken.length > shown.length) shown.push({ level: 'warning', source: 'links', message: `…and ${broken.length - shown.length} more broken links (see Check links).` });
    return shown;
  };
}

export interface LinkServiceDeps {
  db: Db;
  clock: Clock;
  baseUrl: string;
  checker: LinkChecker;
  posts: Pick<PostService, 'load' | 'review' | 'save'>;
  /** How long "check all" waits before answering; checks still running go on and fill the cache. */
  checkAllBudgetMs?: number;
  onBackgroundError?: (err: unknown) => void;
}

export function createLinkService(deps: LinkServiceDeps) {
  const { db, clock, checker, posts } = deps;
  /** Checks in progress by URL, so a row's request and a "check all" share one fetch. */
  const inFlight = new Map<string, Promise<LinkCheckResult>>();

  async function draft(postId: number, writer: Writer) {
    const { post, newsletter } = await posts.load(postId);
    const { rendered } = await posts.review(post, newsletter, writer);
    return { post, newsletter, links: extractLinks(rendered.html, deps.baseUrl) };
  }

  async function report(postId: number, writer: Writer): Promise<LinkReport> {
    const { post, newsletter, links } = await draft(postId, writer);
    const checks = await findLinkChecks(db, links.filter((l) => l.kind === 'web').map((l) => urlHash(l.url)));
    const rows = toRows(links, checks, clock.now());
    return { post, newsletter, rows, counts: countRows(rows) };
  }

  function runCheck(url: string): Promise<LinkCheckResult> {
    const running = inFlight.get(url);
    if (running) return running;
    const work = checker.check(url).then(async (result) => {
      const now = clock.now();
      await saveLinkCheck(db, {
        url_hash: urlHash(url),
        url,
        outcome: result.outcome,
        http_status: result.httpStatus,
        final_url: result.finalUrl,
        redirects: result.redirects,
        permanent: result.permanent ? 1 : 0,
        detail: result.detail.slice(0, 1000),
        checked_at: now,
        expires_at: now + cacheLifetimeMs(result.outcome),
      });
      return result;
    });
    inFlight.set(url, work);
    const forget = () => inFlight.delete(url);
    work.then(forget, forget);
    return work;
  }

  /**
   * The row of one link of the draft, checked now unless a fresh result is cached (or `fresh` asks anyway),
   * with the draft's counts as they stand after it.
   */
  async function checkOne(postId: number, linkId: string, writer: Writer, fresh: boolean): Promise<{ row: LinkRow; counts: LinkReport['counts'] }> {
    const before = await report(postId, writer);
    const row = before.rows.find((r) => r.id === linkId);
    if (!row) throw new NotFoundError('That link is no longer in the draft.');
    if (!row.checkable || (!row.due && !fresh)) return { row, counts: before.counts };
    await runCheck(row.url);
    const after = await report(postId, writer);
    return { row: after.rows.find((r) => r.id === linkId) ?? row, counts: after.counts };
  }

  /** Checks every web link that is due (all of them when `fresh`), waiting up to the budget. */
  async function checkAll(postId: number, writer: Writer, fresh: boolean): Promise<void> {
    const { rows } = await report(postId, writer);
    const urls = rows.filter((r) => r.checkable && (r.due || fresh)).map((r) => r.url);
    const all = Promise.allSettled(urls.map((url) => runCheck(url)));
    all.then((results) => {
      for (const r of results) if (r.status === 'rejected') deps.onBackgroundError?.(r.reason);
    });
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deps.checkAllBudgetMs ?? 15_000);
      timer.unref();
    });
    await Promise.race([all, budget]);
    clearTimeout(timer);
  }

  /** Replaces the link in the draft's Markdown with where its redirects end, as the last check found. */
  async function useFinalUrl(postId: number, linkId: string, writer: Writer): Promise<string> {
    const { post, rows } = await report(postId, writer);
    const row = rows.find((r) => r.id === linkId);
    if (!row) throw new NotFoundError('That link is no longer in the draft.');
    const target = row.check?.outcome === 'redirected' ? row.check.final_url : null;
    if (!target) throw new ConflictError('This link has no final address to use: check it again first.');
    const body = replaceUrl(post.body, row.url, target);
    if (body === post.body) throw new ConflictError('The link is not written that way in the Markdown (it may come from HTML or be encoded differently): edit it by hand.');
    if (body.length > MAX_BODY_CHARS) throw new ValidationError({ body: 'The body would become too long with the final address.' });
    await posts.save(postId, { subject: post.subject, slug: post.slug, preheader: post.preheader, body });
    return target;
  }

  /**
   * Forgets results that expired long ago. Expired results still feed the pre-send warning (the last
   * check found it broken), so they are kept for a month, not dropped at expiry.
   */
  const prune = () => deleteLinkChecksExpiredBefore(db, clock.now() - KEEP_EXPIRED_MS);

  /**
   * Checks again the links of posts going out within `withinMs` whose results have expired, at most
   * `limit` links a run, so the pre-send warning reflects the sites as they are shortly before the send.
   * Returns how many links were checked.
   */
  async function recheckUpcoming(withinMs: number, limit: number): Promise<number> {
    let checked = 0;
    for (const postId of await scheduledPostIdsUntil(db, clock.now() + withinMs)) {
      // No writer is involved: the sample values only fill the preview, never the links' merge tags.
      const { rows } = await report(postId, { name: '', email: '' });
      const due = rows.filter((r) => r.checkable && r.due).slice(0, limit - checked);
      await Promise.allSettled(due.map((r) => runCheck(r.url)));
      checked += due.length;
      if (checked >= limit) break;
    }
    return checked;
  }

  return { report, checkOne, checkAll, useFinalUrl, prune, recheckUpcoming };
}

export type LinkService = ReturnType<typeof createLinkService>;

/**
 * Replaces `from` where it stands as a whole address: not where it is only the start of a longer one
 * (`…/x` inside `…/x/y`). An address ends at a space, a closing bracket or quote, or punctuation that
 * ends a sentence.
 */
export function replaceUrl(markdown: string, from: string, to: string): string {
  const escaped = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const whole = new RegExp(`(?<![\\w.+-])${escaped}(?=$|[\\s)\\]>"'<]|[.,;:!?](?:$|[\\s)\\]]))`, 'g');
  return markdown.replace(whole, () => to);
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}
