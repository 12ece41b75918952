import type { Generated, Insertable, Selectable } from 'kysely';

/** What a link check found, in words a writer understands (see src/features/links/outcomes.ts). */
export type LinkOutcome = 'ok' | 'redirected' | 'broken' | 'server-error' | 'refused' | 'timeout' | 'dns' | 'tls' | 'unsafe' | 'failed';

/** The last check of one URL, cached until `expires_at`. */
export interface LinkChecksTable {
  id: Generated<number>;
  url_hash: string;
  url: string;
  outcome: LinkOutcome;
  http_status: number | null;
  final_url: string | null;
  redirects: number;
  /** 0 or 1 through the codec's boolean column (portable across both dialects). */
  permanent: number;
  detail: string;
  checked_at: number;
  expires_at: number;
}

export type LinkCheckRow = Selectable<LinkChecksTable>;
export type NewLinkCheckRow = Insertable<LinkChecksTable>;
