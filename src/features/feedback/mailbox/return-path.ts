import type { PostContentRenderer } from '../../../sending/content.js';
import type { BounceVerpSettings } from './settings.js';

/**
 * The sending engine's renderer with VERP: each post's content asks for a per-delivery envelope sender
 * (see PostContent.returnPath), signed with the secret the bounce mailbox checks tokens with. Without
 * BOUNCE_VERP_ADDRESS the renderer is returned as it is.
 */
export function withReturnPath(render: PostContentRenderer, verp: BounceVerpSettings | undefined, secret: string): PostContentRenderer {
  if (!verp) return render;
  return async (post, newsletter) => ({ ...(await render(post, newsletter)), returnPath: { ...verp, secret } });
}
