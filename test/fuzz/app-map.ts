import type { FastifyInstance } from 'fastify';

/** Methods that carry a body and change state (and need the CSRF token). */
export const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** One route as the app itself registered it. */
export interface RouteInfo {
  /** The pattern, e.g. `/admin/posts/:id/edit`; `*` for a wildcard. */
  path: string;
  methods: string[];
  params: string[];
}

/**
 * Every route of a ready app, read from Fastify's own route tree (`printRoutes`), so a new route is fuzzed
 * without anyone listing it. The tree is a radix tree: a route's path is its ancestors' labels joined.
 */
export function routesOf(app: FastifyInstance): RouteInfo[] {
  const stack: string[] = [];
  const routes: RouteInfo[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    if (!m[3]) continue;
    const path = stack.join('');
    const methods = [...new Set(m[3].split(',').map((s) => s.trim()))];
    routes.push({ path, methods, params: [...path.matchAll(/:([A-Za-z_]+)/g)].map((p) => p[1]!) });
  }
  if (routes.length < 10) throw new Error(`could not read the route tree:\n${app.printRoutes()}`);
  return routes;
}

/** Turns a route pattern into a regex matching concrete paths, to pair harvested forms with routes. */
export function patternOf(route: RouteInfo): RegExp {
  const source = route.path
    .split(/(:[A-Za-z_]+|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** A form as a browser would submit it untouched: its target (action or hx-post) and its fields with their default values. */
export interface HarvestedForm {
  action: string;
  fields: Array<[string, string]>;
  multipart: boolean;
}

const attr = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescapeHtml(m[1]!) : undefined;
};

function unescapeHtml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e] ?? '');
}

/**
 * The POST forms of one of our own pages, read with regexes (our templates are regular enough): inputs
 * with their values (checked boxes and radios only), textareas, and each select's chosen option.
 */
export function formsIn(html: string, pageUrl: string): HarvestedForm[] {
  const forms: HarvestedForm[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const open = m[1]!;
    if ((attr(open, 'method') ?? 'get').toLowerCase() !== 'post') continue;
    const hxPost = attr(open, 'hx-post');
    const targets = new Set([attr(open, 'action') ?? pageUrl, ...(hxPost ? [hxPost] : [])]);
    const inner = m[2]!;
    const fields: Array<[string, string]> = [];
    for (const [tag] of inner.matchAll(/<input\b[^>]*>/g)) {
      const name = attr(tag, 'name');
      const type = (attr(tag, 'type') ?? 'text').toLowerCase();
      if (!name || type === 'file' || type === 'submit') continue;
      if ((type === 'checkbox' || type === 'radio') && !/\schecked\b/.test(tag)) continue;
      fields.push([name, attr(tag, 'value') ?? (type === 'checkbox' ? 'on' : '')]);
    }
    for (const t of inner.matchAll(/<textarea\b([^>]*)>([\s\S]*?)<\/textarea>/g)) {
      const name = attr(t[1]!, 'name');
      if (name) fields.push([name, unescapeHtml(t[2]!)]);
    }
    for (const s of inner.matchAll(/<select\b([^>]*)>([\s\S]*?)<\/select>/g)) {
      const name = attr(s[1]!, 'name');
      const options = [...s[2]!.matchAll(/<option\b([^>]*)>/g)].map((o) => o[1]!);
      const chosen = options.find((o) => /\sselected\b/.test(o)) ?? options[0];
      if (name && chosen !== undefined) fields.push([name, attr(chosen, 'value') ?? '']);
    }
    for (const target of targets) forms.push({ action: new URL(target, 'http://gazette.test').pathname, fields, multipart: /multipart\/form-data/.test(open) });
  }
  return forms;
}

/** Links, hx-get targets and GET forms of a page (with their fields as query keys): URLs a route is reached by. */
export function linksIn(html: string): string[] {
  const urls: string[] = [];
  for (const m of html.matchAll(/(?:href|hx-get)="([^"]*)"/g)) urls.push(unescapeHtml(m[1]!));
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    if ((attr(m[1]!, 'method') ?? 'get').toLowerCase() !== 'get') continue;
    const names = [...m[2]!.matchAll(/\sname="([^"]+)"/g)].map((n) => `${encodeURIComponent(n[1]!)}=`);
    urls.push(`${attr(m[1]!, 'action') ?? ''}?${names.join('&')}`);
  }
  return urls.filter((u) => u.startsWith('/') && !u.startsWith('//'));
}
