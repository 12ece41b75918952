import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './tokens.js';

/**
 * The token of a VERP return path (`bounces+<token>@bounce.example.com`): a delivery id in base 36 and
 * an 8-character HMAC, so a bounce names its delivery and a forged token names none. Lower case only,
 * since some mail systems fold the local part's case.
 */
export function verpToken(deliveryId: number, secret: string): string {
  const id = deliveryId.toString(36);
  return `${id}.${mac(id, secret)}`;
}

/** The delivery id a token names, or null when it is malformed or its HMAC does not match. */
export function verpDeliveryId(token: string, secret: string): number | null {
  const m = /^([0-9a-z]{1,7})\.([0-9a-z]{8})$/.exec(token.trim().toLowerCase());
  if (!m) return null;
  if (!constantTimeEqual(m[2]!, mac(m[1]!, secret))) return null;
  const id = parseInt(m[1]!, 36);
  return Number.isSafeInteger(id) && id > 0 && id <= 2_147_483_647 ? id : null;
}

function mac(id: string, secret: string): string {
  return createHmac('sha256', `verp:${secret}`).update(id).digest('hex').slice(0, 8);
}
