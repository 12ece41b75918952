/** One record of a CSV file, as the import reads it. */
export interface CsvRecord {
  cells: string[];
  /** The line the record starts on (the file's first line is 1), as a text editor counts them. */
  line: number;
  /** The line it ends on: later than `line` when a quoted cell holds line breaks. */
  endLine: number;
  /** Longer than the limit: `cells` holds only the cells that ended before it; the rest was read past. */
  oversized: boolean;
  /** A quoted cell still open at the end of the file: everything after its quote was read into it. */
  unclosed: boolean;
}

const START = 0; // at the start of a cell
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_SEEN = 3; // a quote inside a quoted cell: the cell's end, or the first of a doubled quote
const CR = 13;
const LF = 10;
const QUOTE = 34;

/**
 * Splits CSV text into records (RFC 4180 quoting), streaming, for files as people really export them:
 * CRLF, LF and CR line ends are all record ends, mixed in one file (a heading typed on Windows above
 * rows pasted from a Mac); a quote inside an unquoted cell, or after a quoted cell's closing quote, is
 * kept as text; blank lines are skipped but still counted, so line numbers match an editor's. A record
 * longer than `maxRecordChars` is not kept in memory: it is read past to its real end and returned once,
 * marked oversized, and reading goes on with the next record.
 */
export async function* csvRecords(chunks: AsyncIterable<string>, options: { delimiter: string; maxRecordChars: number }): AsyncGenerator<CsvRecord> {
  const delimiter = options.delimiter.charCodeAt(0);
  const max = options.maxRecordChars;
  let cells: string[] = [];
  let field = '';
  let state = START;
  let line = 1;
  let recordLine = 1;
  let prevCR = false;
  let inRecord = false;
  let size = 0;
  let oversized = false;

  const take = (text: string) => {
    if (oversized || text.length === 0) return;
    size += text.length;
    if (size > max) {
      oversized = true;
      field = '';
    } else field += text;
  };
  const endField = () => {
    if (!oversized) cells.push(field);
    field = '';
    size++;
  };
  const endRecord = (unclosed: boolean): CsvRecord => {
    endField();
    const record = { cells, line: recordLine, endLine: line, oversized, unclosed };
    cells = [];
    size = 0;
    oversized = false;
    inRecord = false;
    state = START;
    return record;
  };
  // CRLF is one line end, so LF right after CR counts no new line.
  const newline = (c: number) => {
    if (c === CR) line++;
    else if (!prevCR) line++;
    prevCR = c === CR;
  };

  for await (const chunk of chunks) {
    const out: CsvRecord[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      if (state === START) {
        if (c === CR || c === LF) {
          if (inRecord) out.push(endRecord(false));
          newline(c);
          i++;
          continue;
        }
        if (!inRecord) {
          inRecord = true;
          recordLine = line;
        }
        prevCR = false;
        if (c === QUOTE) {
          state = QUOTED;
          i++;
        } else if (c === delimiter) {
          endField();
          i++;
        } else state = UNQUOTED;
        continue;
      }
      if (state === UNQUOTED) {
        let j = i;
        while (j < n) {
          const x = chunk.charCodeAt(j);
          if (x === delimiter || x === CR || x === LF) break;
          j++;
        }
        if (j > i) {
          take(chunk.slice(i, j));
          prevCR = false;
        }
        i = j;
        if (j === n) break;
        const x = chunk.charCodeAt(j);
        if (x === delimiter) {
          endField();
          state = START;
        } else {
          out.push(endRecord(false));
          newline(x);
        }
        i++;
        continue;
      }
      if (state === QUOTED) {
        let j = i;
        while (j < n) {
          const x = chunk.charCodeAt(j);
          if (x === QUOTE) break;
          if (x === CR || x === LF) newline(x);
          else prevCR = false;
          j++;
        }
        take(chunk.slice(i, j));
        i = j;
        if (j === n) break;
        prevCR = false;
        state = QUOTE_SEEN;
        i++;
        continue;
      }
      // QUOTE_SEEN
      if (c === QUOTE) {
        take('"');
        state = QUOTED;
        i++;
      } else if (c === delimiter) {
        endField();
        state = START;
        i++;
      } else if (c === CR || c === LF) {
        out.push(endRecord(false));
        newline(c);
        i++;
      } else {
        // `"a "b" c"` from an exporter that forgot to double its quotes: keep the quote, read on as text.
        take('"');
        state = UNQUOTED;
      }
    }
    yield* out;
  }
  if (inRecord) yield endRecord(state === QUOTED);
}
