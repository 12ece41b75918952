/**
 * The merge-tag language for personalising posts: `{{ subscriber.name | default: "friend" }}`.
 * Deliberately tiny: a fixed set of names, one filter, no expressions, no function calls, nothing that
 * can reach the environment, the file system or the network. Unknown names render empty (or the
 * default) so a send never fails half-way; `parseMerge` reports them so the writer sees them first.
 */

export interface MergeField {
  /** Dotted name, e.g. ["subscriber", "attributes", "city"]. */
  path: string[];
  fallback: string;
  /** The tag exactly as written, for messages. */
  raw: string;
}

export type MergeSegment = string | MergeField;

export interface MergeValues {
  subscriber: { name: string; email: string; attributes: Record<string, unknown> };
  newsletter?: { name: string };
  post?: { subject: string };
  unsubscribe_url?: string;
  preferences_url?: string;
  web_url?: string;
  /** Not for writers: the per-recipient tracking suffix the sending engine fills in (src/domain/tracking.ts). */
  tracking_id?: string;
  /** Not for writers: a paywalled post's signed query naming the reader (src/domain/paywall.ts). */
  reader_access?: string;
}

const TAG = /\{\{([\s\S]*?)\}\}/g;
const BODY = /^\s*([a-z_][a-z0-9_]*(?:\.[a-z0-9_-]+)*)\s*(?:\|\s*default\s*:\s*(?:"([^"]*)"|'([^']*)')\s*)?$/i;
const SUBSCRIBER_FIELDS = new Set(['name', 'first_name', 'email', 'attributes']);
const TOP_LEVEL = new Set(['unsubscribe_url', 'preferences_url', 'web_url']);
const MAX_FALLBACK = 200;

export function parseMerge(template: string): { segments: MergeSegment[]; problems: string[] } {
  const segments: MergeSegment[] = [];
  const problems: string[] = [];
  let last = 0;
  for (const match of template.matchAll(TAG)) {
    const start = match.index ?? 0;
    if (start > last) segments.push(template.slice(last, start));
    last = start + match[0].length;
    const body = BODY.exec(match[1] ?? '');
    if (!body) {
      problems.push(`${match[0]} is not a merge tag Gazette understands (use {{ subscriber.name | default: "friend" }}).`);
      segments.push({ path: [], fallback: '', raw: match[0] });
      continue;
    }
    const path = body[1]!.split('.');
    const fallback = (body[2] ?? body[3] ?? '').slice(0, MAX_FALLBACK);
    const problem = pathProblem(path);
    if (problem) problems.push(`${match[0]}: ${problem}`);
    segments.push({ path, fallback, raw: match[0] });
  }
  if (last < template.length) segments.push(template.slice(last));
  const tail = template.slice(last);
  if (tail.includes('{{')) problems.push('A "{{" is never closed with "}}".');
  return { segments: mergeAdjacent(segments), problems };
}

function pathProblem(path: string[]): string | undefined {
  const [root, field, ...rest] = path;
  if (root === 'subscriber') {
    if (!field || !SUBSCRIBER_FIELDS.has(field)) return `subscriber has name, first_name, email and attributes.<name>.`;
    if (field === 'attributes' ? rest.length !== 1 : rest.length > 0) return 'use subscriber.attributes.<name> for custom attributes.';
    return undefined;
  }
  if (root === 'newsletter') return field === 'name' && rest.length === 0 ? undefined : 'newsletter has only name.';
  if (root === 'post') return field === 'subject' && rest.length === 0 ? undefined : 'post has only subject.';
  if (root && TOP_LEVEL.has(root) && !field) return undefined;
  return `unknown name "${path.join('.')}".`;
}

function mergeAdjacent(segments: MergeSegment[]): MergeSegment[] {
  const out: MergeSegment[] = [];
  for (const s of segments) {
    const prev = out[out.length - 1];
    if (typeof s === 'string' && typeof prev === 'string') out[out.length - 1] = prev + s;
    else out.push(s);
  }
  return out;
}

/** The plain-text value of one field for one recipient ('' or the fallback when it has none). */
export function resolveField(field: MergeField, values: MergeValues): string {
  const [root, key, attr] = field.path;
  let value: unknown;
  if (root === 'subscriber') {
    const s = values.subscriber;
    if (key === 'name') value = s.name;
    else if (key === 'first_name') value = s.name.trim().split(/\s+/)[0];
    else if (key === 'email') value = s.email;
    else if (key === 'attributes' && attr !== undefined && Object.prototype.hasOwnProperty.call(s.attributes, attr)) value = s.attributes[attr];
  } else if (root === 'newsletter' && key === 'name') value = values.newsletter?.name;
  else if (root === 'post' && key === 'subject') value = values.post?.subject;
  else if (root === 'unsubscribe_url') value = values.unsubscribe_url;
  else if (root === 'preferences_url') value = values.preferences_url;
  else if (root === 'web_url') value = values.web_url;
  else if (root === 'tracking_id') value = values.tracking_id;
  else if (root === 'reader_access') value = values.reader_access;
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
  return text.trim() === '' ? field.fallback : text;
}

/** Renders parsed segments; `escape` is applied to substituted values only (e.g. HTML escaping). */
export function renderMerge(segments: MergeSegment[], values: MergeValues, escape: (s: string) => string = (s) => s): string {
  let out = '';
  for (const s of segments) out += typeof s === 'string' ? s : escape(resolveField(s, values));
  return out;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}
