import { createReadStream, promises as fs } from 'node:fs';

/** The encodings an uploaded CSV is read in; every label is one TextDecoder knows (Node has full ICU). */
export type FileEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

/**
 * Which encoding a file is in: a byte-order mark says so for UTF-8 and UTF-16; without one, a file that
 * is valid UTF-8 throughout is UTF-8, and anything else is taken as Windows-1252 (Excel's "CSV" on
 * Western-European Windows, a superset of Latin-1 in which every byte is a character). Reading the
 * whole file once is cheap next to importing it, and a guess from the first bytes alone would turn a
 * name far down the file into mojibake.
 */
export async function detectEncoding(filePath: string): Promise<FileEncoding> {
  const head = Buffer.alloc(3);
  const handle = await fs.open(filePath, 'r');
  try {
    await handle.read(head, 0, 3, 0);
  } finally {
    await handle.close();
  }
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of createReadStream(filePath)) utf8.decode(chunk as Buffer, { stream: true });
    utf8.decode();
    return 'utf-8';
  } catch (err) {
    if (err instanceof TypeError) return 'windows-1252';
    throw err;
  }
}

/**
 * The file's text in chunks, without its byte-order mark, with `onBytes` told how many bytes of the
 * file have been read. NUL characters are dropped: no text file means them, Postgres refuses them, and
 * an ASCII file saved as UTF-16 without a mark reads correctly once they are gone.
 */
export async function* decodeFile(filePath: string, encoding: FileEncoding, onBytes: (bytes: number) => void): AsyncGenerator<string> {
  const decoder = new TextDecoder(encoding);
  let bytes = 0;
  for await (const chunk of createReadStream(filePath, { highWaterMark: 256 * 1024 })) {
    bytes += (chunk as Buffer).length;
    onBytes(bytes);
    const text = decoder.decode(chunk as Buffer, { stream: true });
    if (text) yield text.includes('\0') ? text.replaceAll('\0', '') : text;
  }
  const rest = decoder.decode();
  if (rest) yield rest.replaceAll('\0', '');
}

/** The notice an import report carries when the file was not read as UTF-8. */
export function encodingNotice(encoding: FileEncoding): string | null {
  if (encoding !== 'windows-1252') return null;
  return 'This file is not UTF-8: it was read as Windows-1252 (Western European, also called Latin-1). If names look wrong, the file uses another encoding: save it as "CSV UTF-8" before importing.';
}
