import type { Generated, Insertable, Selectable } from 'kysely';

/** Mail captured instead of delivered when no SMTP relay is configured. */
export interface DevOutboxTable {
  id: Generated<number>;
  message_id: string;
  from_address: string;
  to_address: string;
  subject: string;
  /** The complete RFC 5322 message as it would have gone on the wire. */
  raw: string;
  created_at: number;
}

export type DevOutboxRow = Selectable<DevOutboxTable>;
export type NewDevOutboxRow = Insertable<DevOutboxTable>;
