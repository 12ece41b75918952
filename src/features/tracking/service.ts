import type { Db } from '../../db/database.js';
import { findTrackedLink } from '../../domain/tracked-links-repository.js';
import { splitTrackingPath, verifyPersonal, verifyToken } from '../../domain/tracking.js';
import type { HitRecorder } from './recorder.js';

/**
 * What the tracking URLs do: a click redirects to the stored URL of a signed link token (anything else is
 * not found: never a redirect to a URL the request names); an open records and the route answers the
 * pixel whatever the token. Both only append to the recorder's buffer.
 */

export interface HitRequest {
  method: string;
  userAgent: string;
  ip: string;
}

export interface TrackingService {
  /** Where a click token leads, or undefined for a token that is not ours. */
  click(token: string, req: HitRequest): Promise<string | undefined>;
  open(token: string, req: HitRequest): Promise<void>;
}

const LINKS_KEPT = 10_000;

export function createTrackingService(deps: { db: Db; key: string; baseUrl: string; recorder: HitRecorder }): TrackingService {
  const { db, key, recorder } = deps;
  const links = new Map<number, { postId: number; url: string } | null>();

  async function link(id: number): Promise<{ postId: number; url: string } | undefined> {
    let found = links.get(id);
    if (found === undefined) {
      found = (await findTrackedLink(db, id)) ?? null;
      if (links.size >= LINKS_KEPT) links.delete(links.keys().next().value!);
      links.set(id, found);
    }
    return found ?? undefined;
  }

  function personal(token: string | undefined, postId: number): number | null {
    return token === undefined ? null : (verifyPersonal(key, token, postId) ?? null);
  }

  return {
    async click(value, req) {
      const parts = splitTrackingPath(value);
      const token = parts && verifyToken(key, parts.shared);
      if (!token || token.kind === 'o') return undefined;
      if (token.kind === 'k') {
        await recorder.record({ postId: token.id, kind: 'canary', linkId: null, deliveryId: personal(parts.personal, token.id), ...req });
        return `${deps.baseUrl}/`;
      }
      const target = await link(token.id);
      if (!target) return undefined;
      await recorder.record({ postId: target.postId, kind: 'click', linkId: token.id, deliveryId: personal(parts.personal, target.postId), ...req });
      return target.url;
    },
    async open(value, req) {
      const parts = splitTrackingPath(value);
      const token = parts && verifyToken(key, parts.shared);
      if (!token || token.kind !== 'o') return;
      await recorder.record({ postId: token.id, kind: 'open', linkId: null, deliveryId: personal(parts.personal, token.id), ...req });
    },
  };
}
