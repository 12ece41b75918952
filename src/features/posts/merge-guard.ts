import { randomBytes } from 'node:crypto';
import { parseMerge, type MergeField } from '../../lib/merge.js';

/**
 * Markdown, the HTML sanitiser, the CSS inliner and the HTML→text converter each have their own idea of
 * what `{{ subscriber.name | default: "friend" }}` means (a table cell, an attribute quote, an invalid
 * URL with spaces, a word to upper-case). So merge tags are swapped for inert placeholders first
 * (letters and digits only, with a random nonce so text can never forge one), the content goes through
 * every stage, and then the placeholders are put back as canonical tags for the engine to fill in.
 * Tags that do not parse are dropped: they would render empty at send time anyway, and the pre-send
 * checks name them.
 */
export interface MergeGuard {
  /** Replaces every merge tag in `text` with a placeholder. */
  protect(text: string): string;
  /** Puts canonical tags back in HTML (tags inside attribute values use single quotes). */
  restoreHtml(html: string): string;
  /** Puts canonical tags back in plain text. */
  restoreText(text: string): string;
  /** The placeholder's field, if `value` is exactly one placeholder (e.g. a link target). */
  fieldOf(value: string): MergeField | undefined;
}

export function createMergeGuard(): MergeGuard {
  const nonce = randomBytes(6).toString('hex').toUpperCase();
  const fields: Array<MergeField | undefined> = [];
  const pattern = new RegExp(`ZQ${nonce}Q(\\d+)QZ`, 'g');
  const exact = new RegExp(`^ZQ${nonce}Q(\\d+)QZ$`);

  const protect = (text: string) => {
    const { segments } = parseMerge(text);
    let out = '';
    for (const s of segments) {
      if (typeof s === 'string') out += s;
      else {
        fields.push(s.path.length > 0 ? s : undefined);
        out += `ZQ${nonce}Q${fields.length - 1}QZ`;
      }
    }
    return out;
  };
  const field = (index: string) => fields[Number(index)];

  return {
    protect,
    restoreHtml(html) {
      // Inside a double-quoted attribute a tag must not contain a double quote.
      const inAttributes = html.replace(/="([^"<>]*)"/g, (_m, value: string) => `="${value.replace(pattern, (_p, i: string) => canonicalTag(field(i), true))}"`);
      return inAttributes.replace(pattern, (_p, i: string) => canonicalTag(field(i), false));
    },
    restoreText(text) {
      return text.replace(pattern, (_p, i: string) => canonicalTag(field(i), false));
    },
    fieldOf(value) {
      const m = exact.exec(value.trim());
      return m ? field(m[1]!) : undefined;
    },
  };
}

/** `{{ path }}` or `{{ path | default: "fallback" }}`, in a form `parseMerge` reads back identically. */
export function canonicalTag(field: MergeField | undefined, forAttribute: boolean): string {
  if (!field) return '';
  const name = field.path.join('.');
  if (field.fallback === '') return `{{ ${name} }}`;
  let fallback = field.fallback;
  let quote = fallback.includes('"') || forAttribute ? "'" : '"';
  if (quote === "'" && fallback.includes("'")) {
    if (forAttribute) fallback = fallback.replace(/'/g, '\u2019');
    else quote = '"';
  }
  return `{{ ${name} | default: ${quote}${fallback}${quote} }}`;
}
