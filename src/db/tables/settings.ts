import type { Selectable } from 'kysely';

/** Small key/value store for state that belongs to the installation rather than to a feature row. */
export interface SettingsTable {
  key: string;
  value: string;
  updated_at: number;
}

export type SettingRow = Selectable<SettingsTable>;
