import type { Kysely } from 'kysely';

/**
 * A newsletter's own look (src/features/design/): theme, accent colour, palette, font, footer text, the
 * writer's CSS for the web pages and for the email (stored already sanitised), and the uploaded logo's
 * file under DATA_DIR/brand (content-addressed, so a new logo is a new URL and caches never go stale).
 */
const COLUMNS: Array<[string, string]> = [
  // classic | modern | plain
  ['theme', 'classic'],
  // #rrggbb
  ['accent_color', '#1f5fbf'],
  // light | dark | auto (follows prefers-color-scheme)
  ['palette', 'auto'],
  // a key of FONTS in src/features/design/themes.ts
  ['font', 'georgia'],
  ['footer_text', ''],
  ['web_css', ''],
  ['email_css', ''],
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, fallback] of COLUMNS) {
    await db.schema
      .alterTable('newsletters')
      .addColumn(name, 'text', (c) => c.notNull().defaultTo(fallback))
      .execute();
  }
  // "<sha256>.png"; its favicon is "<sha256>-icon.png". Null: no logo.
  await db.schema.alterTable('newsletters').addColumn('logo_file', 'text').execute();
  await db.schema.alterTable('newsletters').addColumn('logo_width', 'integer').execute();
  await db.schema.alterTable('newsletters').addColumn('logo_height', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['logo_height', 'logo_width', 'logo_file', ...COLUMNS.map(([n]) => n).reverse()]) {
    await db.schema.alterTable('newsletters').dropColumn(name).execute();
  }
}

