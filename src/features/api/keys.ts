import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../lib/tokens.js';

/**
 * API keys: `gz_<40 base32 characters>` (200 random bits), shown once; only the SHA-256 is stored, and
 * the first characters, so the writer can tell keys apart. A key carries scopes, each a resource and
 * `read` or `write`; `write` includes `read`.
 */

export const API_SCOPES = [
  'newsletters:read',
  'subscribers:read',
  'subscribers:write',
  'subscribers:write:trusted',
  'tags:read',
  'tags:write',
  'posts:read',
  'posts:write',
  'posts:send',
  'suppressions:read',
  'suppressions:write',
  'events:read',
] as const;

export type ApiScope = (typeof API_SCOPES)[number];

export const SCOPE_LABELS: Record<ApiScope, string> = {
  'newsletters:read': 'Read newsletters',
  'subscribers:read': 'Read subscribers',
  'subscribers:write': 'Add, change, unsubscribe and delete subscribers (new ones confirm by email)',
  'subscribers:write:trusted': 'Add subscribers as already confirmed (only for consent you collected yourself)',
  'tags:read': 'Read tags',
  'tags:write': 'Tag and untag subscribers',
  'posts:read': 'Read posts and their statistics',
  'posts:write': 'Create and edit draft posts',
  'posts:send': 'Schedule, send and cancel posts',
  'suppressions:read': 'Read the suppression list',
  'suppressions:write': 'Add addresses to the suppression list and remove them',
  'events:read': 'Read the event log',
};

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

export function newApiKey(): string {
  const bytes = randomBytes(25);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `gz_${out}`;
}

export const keyHash = (key: string) => sha256Hex(key);
export const keyPrefix = (key: string) => key.slice(0, 9);

/**
 * Whether `granted` covers `needed`: any scope of a resource covers reading it (a key that may write or
 * send posts may read them).
 */
export function hasScope(granted: readonly string[], needed: ApiScope): boolean {
  if (granted.includes(needed)) return true;
  if (needed.endsWith(':read')) {
    const resource = needed.slice(0, -'read'.length);
    return granted.some((g) => g.startsWith(resource));
  }
  if (needed === 'subscribers:write') return granted.includes('subscribers:write:trusted');
  return false;
}

export function parseScopes(json: string): ApiScope[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((s): s is ApiScope => (API_SCOPES as readonly string[]).includes(s)) : [];
  } catch {
    return [];
  }
}
