import type { DbOrTx } from '../../db/database.js';
import { parseJsonObject } from '../../db/codec.js';
import { CSV_BOM, csvLine } from './csv.js';
import type { SubscriberFilter } from './filters.js';
import { exportExtras, exportPage, sortKeyOf, type PageRequest } from './list-repository.js';

const PAGE = 1000;

export const EXPORT_COLUMNS = ['email', 'name', 'subscriptions', 'tags', 'attributes', 'source', 'created_at'];

/**
 * The filtered subscribers as CSV, one keyset page at a time, so memory stays flat whatever the list's
 * size. Subscriptions are `newsletter: status` pairs and tags a comma list; attributes are one JSON cell
 * (their keys differ per subscriber, and a header would need a pass over every row first).
 */
export async function* exportCsv(db: DbOrTx, filter: SubscriberFilter): AsyncGenerator<string> {
  yield CSV_BOM + csvLine(EXPORT_COLUMNS);
  let page: PageRequest | null = null;
  for (;;) {
    const rows = await exportPage(db, filter, page, PAGE);
    if (rows.length === 0) return;
    const ids = rows.map((r) => r.id);
    const { subscriptions: subs, tags } = await exportExtras(db, ids);
    const subsOf = group(subs, (s) => `${s.name}: ${s.status}`);
    const tagsOf = group(tags, (t) => t.name);
    let chunk = '';
    for (const r of rows) {
      const attributes = parseJsonObject(r.attributes);
      chunk += csvLine([
        r.email,
        r.name,
        (subsOf.get(r.id) ?? []).join('; '),
        (tagsOf.get(r.id) ?? []).join(', '),
        Object.keys(attributes).length > 0 ? JSON.stringify(attributes) : '',
        r.source,
        new Date(r.created_at).toISOString(),
      ]);
    }
    yield chunk;
    if (rows.length < PAGE) return;
    page = { direction: 'after', key: sortKeyOf(filter.sort, rows[rows.length - 1]!) };
  }
}

function group<T extends { subscriber_id: number }>(rows: T[], label: (row: T) => string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const row of rows) {
    const list = out.get(row.subscriber_id);
    if (list) list.push(label(row));
    else out.set(row.subscriber_id, [label(row)]);
  }
  return out;
}
