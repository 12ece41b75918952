import { isValidEmail } from '../../lib/email.js';

/**
 * Which CSV column is what, from the header row of an export from Mailchimp ("Email Address",
 * "First Name", "Last Name", "TAGS"), Substack ("email", "name"), Buttondown ("email", "notes", "tags"),
 * listmonk, Ghost and spreadsheets people made by hand. Every other column becomes an attribute.
 */
export interface ColumnMap {
  /** True when the first row is a header; a bare list of addresses has none. */
  hasHeader: boolean;
  email: number;
  name: number | null;
  firstName: number | null;
  lastName: number | null;
  tags: number | null;
  /** Column index → attribute key. */
  attributes: Map<number, string>;
  /** How many cells the first row has. */
  headings: number;
  /** Why each column that is not imported is left out, by its heading, for the import's report. */
  dropped: string[];
}

const norm = (h: string) => h.toLowerCase().replace(/[^a-z0-9]/g, '');

const EMAIL = ['email', 'emailaddress', 'mail', 'emailaddr', 'subscriberemail', 'courriel', 'correo'];
const NAME = ['name', 'fullname', 'displayname', 'subscribername', 'nom', 'nombre'];
const FIRST = ['firstname', 'first', 'fname', 'givenname', 'forename', 'prenom'];
const LAST = ['lastname', 'last', 'lname', 'surname', 'familyname', 'nomdefamille'];
const TAGS = ['tags', 'tag', 'labels'];

export const MAX_ATTRIBUTE_COLUMNS = 50;

function find(headers: string[], names: string[], taken: Set<number>): number | null {
  for (const wanted of names) {
    const i = headers.findIndex((h, idx) => !taken.has(idx) && norm(h) === wanted);
    if (i >= 0) return i;
  }
  return null;
}

/** Reads the first record; throws a message for the writer when no column holds addresses. */
export function detectColumns(first: string[]): ColumnMap {
  const taken = new Set<number>();
  let email = find(first, EMAIL, taken);
  if (email === null) {
    // "E-mail 1", "Work email" …: any header that mentions email.
    const i = first.findIndex((h) => norm(h).includes('email'));
    if (i >= 0) email = i;
  }
  if (email === null) {
    // No header at all: a bare list whose first row is already an address.
    const i = first.findIndex((cell) => isValidEmail(cell.trim()));
    if (i >= 0) {
      const name = first.length === 2 ? 1 - i : null;
      const others = first.length - (name === null ? 1 : 2);
      const dropped = others > 0 ? [`the file has no heading row, so only its email column${name === null ? '' : ' and name column'} could be imported and ${others} other column${others === 1 ? ' was' : 's were'} not. Add a heading row (email, name, …) and import the file again: what is already there is kept.`] : [];
      return { hasHeader: false, email: i, name, firstName: null, lastName: null, tags: null, attributes: new Map(), headings: first.length, dropped };
    }
    throw new Error('No column with email addresses was found. Name it "email" (or "Email Address") in the first row.');
  }
  taken.add(email);
  const mark = (i: number | null) => {
    if (i !== null) taken.add(i);
    return i;
  };
  const name = mark(find(first, NAME, taken));
  const firstName = mark(find(first, FIRST, taken));
  const lastName = mark(find(first, LAST, taken));
  const tags = mark(find(first, TAGS, taken));
  const attributes = new Map<number, string>();
  const columnOf = new Map<string, number>();
  const dropped: string[] = [];
  const keep = (i: number, key: string) => {
    const other = columnOf.get(key);
    if (other !== undefined) {
      dropped.push(`column ${i + 1} ("${key}") was not imported: column ${other + 1} has the same heading. Rename one and import the file again: what is already there is kept.`);
    } else if (attributes.size >= MAX_ATTRIBUTE_COLUMNS) {
      dropped.push(`column ${i + 1} ("${key}") was not imported: a file can have at most ${MAX_ATTRIBUTE_COLUMNS} columns besides email, name and tags. Import the rest in a second file with the email column.`);
    } else {
      attributes.set(i, key);
      columnOf.set(key, i);
    }
  };
  // Named columns first, so a row's trailing empty cells never take the place of a real column; a
  // column without a heading is still kept, under its number, in case it holds something.
  first.forEach((header, i) => {
    const key = header.trim().slice(0, 64);
    if (!taken.has(i) && key) keep(i, key);
  });
  first.forEach((header, i) => {
    if (!taken.has(i) && !header.trim()) keep(i, `column ${i + 1}`);
  });
  return { hasHeader: true, email, name, firstName, lastName, tags, attributes, headings: first.length, dropped };
}

/** "a, b" or Mailchimp's `"a","b"` → ["a", "b"]. */
export function splitTags(cell: string): string[] {
  return cell
    .split(',')
    .map((t) => t.replace(/^\s*"|"\s*$/g, '').replace(/\s+/g, ' ').trim())
    .filter((t) => t.length > 0 && t.length <= 50);
}

/** Guesses the delimiter from the header line: the one of , ; TAB that splits it most. */
export function sniffDelimiter(firstLine: string): string {
  const counts = [',', ';', '\t'].map((d) => ({ d, n: firstLine.split(d).length - 1 }));
  counts.sort((a, b) => b.n - a.n);
  return counts[0]!.n > 0 ? counts[0]!.d : ',';
}
