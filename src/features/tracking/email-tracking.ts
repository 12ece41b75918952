import type { Db } from '../../db/database.js';
import { saveTrackedLinks } from '../../domain/tracked-links-repository.js';
import { rewriteForTracking, trackableLinks } from '../../domain/tracking.js';
import type { Clock } from '../../lib/clock.js';
import type { PostContentRenderer } from '../../sending/content.js';

/**
 * The sending engine's renderer with tracking: when the post's newsletter has tracking on, its links are
 * stored and rewritten, and the pixel and canary added, once per post (the engine compiles a post once).
 * With tracking off the content is exactly what `render` made. Per recipient, only the personal suffix of
 * a consenting reader is filled in (see PostContent.tracking).
 */
export function withTracking(render: PostContentRenderer, deps: { db: Db; clock: Clock; key: string; baseUrl: string }): PostContentRenderer {
  return async (post, newsletter) => {
    const content = await render(post, newsletter);
    const mode = newsletter.tracking_mode;
    if (mode !== 'aggregate' && mode !== 'subscriber') return content;
    // A paywalled post's whole version (for paying readers) has links of its own.
    const links = trackableLinks(content.full ? content.html + content.full.html : content.html, deps.baseUrl);
    const linkIds = await saveTrackedLinks(deps.db, post.id, links, deps.clock.now());
    const rewrite = (html: string) => rewriteForTracking(html, { mode, baseUrl: deps.baseUrl, key: deps.key, postId: post.id, linkIds });
    const full = content.full && { ...content.full, html: rewrite(content.full.html) };
    return { ...content, html: rewrite(content.html), full, tracking: mode === 'subscriber' ? { key: deps.key, postId: post.id } : undefined };
  };
}
