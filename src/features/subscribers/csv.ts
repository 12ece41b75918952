/**
 * CSV output that is safe to open in a spreadsheet (research C4, ASVS 1.2.10): a cell that starts with
 * = + - @ TAB or CR would be run as a formula, so it gets a leading apostrophe; then RFC 4180 quoting
 * (fields with a quote, comma, CR or LF are quoted, quotes doubled) and CRLF line ends.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? '' : typeof value === 'string' ? value : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(cells: unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/** Excel reads a file as UTF-8 only when it starts with a byte-order mark; other tools skip it. */
export const CSV_BOM = '\uFEFF';

export function attachmentHeaders(filename: string): Record<string, string> {
  return {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
}
