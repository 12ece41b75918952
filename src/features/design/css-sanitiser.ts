/**
 * The writer's custom CSS, made safe to put inside a <style> element of a reader page or an email.
 *
 * It is parsed, not filtered with patterns: the text is read into rules, @media blocks and declarations
 * (strings and parentheses respected, so a brace inside a string cannot end a block), every piece is
 * checked against an allowlist, and the output is written back from the pieces that passed. Whatever is
 * dropped is named in `removed`, so the settings page can tell the writer why a rule vanished.
 *
 * Refused: every at-rule but @media (so @import, @font-face, @charset, @namespace…), backslash escapes
 * (they spell `expression` or `javascript` in ways no pattern sees), `<` anywhere (a `</style` breakout),
 * url() other than https (javascript:, data:, relative), expression(), image-set()/src() (strings that
 * load), IE's behavior and filter:progid and Firefox's -moz-binding.
 */

export interface SanitisedCss {
  css: string;
  removed: string[];
}

const BLOCKED_PROPERTIES = new Set(['behavior', 'behaviour', '-ms-behavior', '-moz-binding', 'binding']);
const PROPERTY = /^-{0,2}[a-z][a-z0-9-]*$/i;
/** Selectors: names, classes, ids, combinators, attribute and pseudo selectors, nothing that escapes. */
const SELECTOR = /^[\w\s\-.,:#*>+~()[\]="'^$|%]*$/;
const MEDIA_QUERY = /^[\w\s\-:(),./]+$/;
const DANGEROUS_VALUE = /expression\s*\(|javascript:|vbscript:|livescript:|-moz-binding|behaviou?r\s*:|progid\s*:|@import|image-set\s*\(|(^|[^-\w])src\s*\(/i;
const URL_CALL = /url\s*\(\s*(['"]?)(.*?)\1\s*\)/gi;
const MAX_DEPTH = 2;

/** Reads `css` into the allowed subset; never throws. */
export function sanitiseCss(input: string): SanitisedCss {
  const removed: string[] = [];
  const text = stripComments(input.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, ''), removed);
  const reader = { text, pos: 0 };
  const css = readBlockBody(reader, 0, removed).join('\n');
  // Built only from checked pieces; this is the last line of defence if a check above were wrong.
  if (/[<\\]/.test(css)) return { css: '', removed: [...removed, 'everything (the stylesheet could not be made safe)'] };
  return { css, removed };
}

function stripComments(text: string, removed: string[]): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf('/*', i);
    if (start === -1) return out + text.slice(i);
    out += `${text.slice(i, start)} `;
    const end = text.indexOf('*/', start + 2);
    if (end === -1) {
      removed.push('an unclosed comment and everything after it');
      return out;
    }
    i = end + 2;
  }
  return out;
}

interface Reader {
  text: string;
  pos: number;
}

/**
 * Reads up to one of `stops` (at nesting depth 0, outside strings); returns the text read and the stop
 * found ('' at the end of the input). Parentheses and brackets nest; an unclosed string runs to the end.
 */
function readUntil(r: Reader, stops: string): { text: string; stop: string } {
  const start = r.pos;
  let depth = 0;
  while (r.pos < r.text.length) {
    const c = r.text[r.pos]!;
    if (c === '"' || c === "'") {
      const close = r.text.indexOf(c, r.pos + 1);
      r.pos = close === -1 ? r.text.length : close + 1;
      continue;
    }
    if (c === '(' || c === '[') depth++;
    else if ((c === ')' || c === ']') && depth > 0) depth--;
    else if (depth === 0 && stops.includes(c)) {
      const text = r.text.slice(start, r.pos);
      r.pos++;
      return { text, stop: c };
    }
    r.pos++;
  }
  return { text: r.text.slice(start), stop: '' };
}

/** Skips a `{ … }` block whose opening brace was just read, nested blocks included. */
function skipBlock(r: Reader): void {
  let depth = 1;
  while (depth > 0) {
    const { stop } = readUntil(r, '{}');
    if (stop === '') return;
    depth += stop === '{' ? 1 : -1;
  }
}

function short(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 40 ? `${t.slice(0, 39)}…` : t;
}

/** Rules and @media blocks up to the closing `}` of the current block (or the end at depth 0). */
function readBlockBody(r: Reader, depth: number, removed: string[]): string[] {
  const out: string[] = [];
  for (;;) {
    while (r.pos < r.text.length && /\s/.test(r.text[r.pos]!)) r.pos++;
    if (r.pos >= r.text.length) return out;
    if (r.text[r.pos] === '}') {
      r.pos++;
      if (depth > 0) return out;
      removed.push('a stray }');
      continue;
    }
    const { text: prelude, stop } = readUntil(r, '{};');
    if (stop === '}') r.pos--;
    if (stop !== '{') {
      if (prelude.trim()) removed.push(prelude.trim().startsWith('@') ? `the rule ${short(prelude)}` : `"${short(prelude)}" (not a rule)`);
      continue;
    }
    if (prelude.trim().startsWith('@')) out.push(...readAtRule(r, prelude.trim(), depth, removed));
    else {
      const rule = readStyleRule(r, prelude.trim(), removed);
      if (rule) out.push(rule);
    }
  }
}

function readAtRule(r: Reader, prelude: string, depth: number, removed: string[]): string[] {
  const media = /^@media\s+(.+)$/is.exec(prelude);
  if (!media || depth + 1 >= MAX_DEPTH || !MEDIA_QUERY.test(media[1]!)) {
    removed.push(`the rule ${short(prelude)}`);
    skipBlock(r);
    return [];
  }
  const inner = readBlockBody(r, depth + 1, removed);
  if (inner.length === 0) return [];
  return [`@media ${media[1]!.replace(/\s+/g, ' ').trim()} {`, ...inner.map((l) => `  ${l}`), '}'];
}

function readStyleRule(r: Reader, selector: string, removed: string[]): string | undefined {
  const start = r.pos;
  skipBlock(r);
  const body = r.text.slice(start, Math.max(start, r.pos - 1));
  if (!selector || !SELECTOR.test(selector) || /[{}]/.test(withoutStrings(body))) {
    removed.push(`the rule for "${short(selector)}"`);
    return undefined;
  }
  const declarations = readDeclarations(body, removed);
  if (declarations.length === 0) return undefined;
  return `${selector.replace(/\s+/g, ' ')} { ${declarations.join('; ')}; }`;
}

function readDeclarations(body: string, removed: string[]): string[] {
  const r = { text: body, pos: 0 };
  const out: string[] = [];
  while (r.pos < r.text.length) {
    const { text } = readUntil(r, ';');
    const declaration = text.trim();
    if (!declaration) continue;
    const colon = declaration.indexOf(':');
    const property = colon === -1 ? declaration : declaration.slice(0, colon).trim();
    const value = colon === -1 ? '' : declaration.slice(colon + 1).trim();
    const problem = declarationProblem(property, value);
    if (problem) removed.push(`${short(declaration)} (${problem})`);
    else out.push(`${property.toLowerCase()}: ${value.replace(/\s+/g, ' ')}`);
  }
  return out;
}

function declarationProblem(property: string, value: string): string | undefined {
  if (!PROPERTY.test(property) || value === '') return 'not a declaration';
  if (BLOCKED_PROPERTIES.has(property.toLowerCase())) return 'this property runs code in some browsers';
  if (/[<\\]/.test(value)) return 'escapes and < are not allowed';
  if (countQuotes(value) % 2 !== 0) return 'an unclosed string';
  if (DANGEROUS_VALUE.test(value)) return 'this value can run code or load other files';
  for (const m of value.matchAll(URL_CALL)) {
    if (!/^https:\/\/[^\s'"()]+$/i.test(m[2]!.trim())) return 'only https:// addresses are allowed in url()';
  }
  if (/url\s*\(/i.test(value.replace(URL_CALL, ''))) return 'a url() that could not be read';
  return undefined;
}

function countQuotes(value: string): number {
  let count = 0;
  let open: string | undefined;
  for (const c of value) {
    if ((c === '"' || c === "'") && (open === undefined || open === c)) {
      open = open === undefined ? c : undefined;
      count++;
    }
  }
  return count;
}

/** The text with the contents of its strings blanked out, to look for structure outside them. */
function withoutStrings(text: string): string {
  return text.replace(/"[^"]*"|'[^']*'/g, '""');
}
