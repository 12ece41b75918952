import type { NewsletterRow } from '../../db/tables/newsletters.js';
import { AA_TEXT, contrastRatio, readableOn, textOn } from './contrast.js';

/**
 * A newsletter's look, in one `Brand` object every reader page, the archive and the email template read.
 * The choices are small on purpose: three themes, three palettes and a handful of fonts that every mail
 * client has, so what the writer previews is what readers get.
 */

export const THEMES = {
  classic: { label: 'Classic', hint: 'Serif text on a card, the Gazette look.' },
  modern: { label: 'Modern', hint: 'Open white page, an accent bar, tighter headings.' },
  plain: { label: 'Plain', hint: 'Like a personal letter: no card, no colours but links.' },
} as const;
export type Theme = keyof typeof THEMES;

export const PALETTES = {
  auto: 'Follow the reader (light or dark)',
  light: 'Always light',
  dark: 'Always dark',
} as const;
export type Palette = keyof typeof PALETTES;

export const FONTS = {
  georgia: { label: 'Georgia (serif)', stack: `Georgia, 'Times New Roman', serif` },
  palatino: { label: 'Palatino (serif)', stack: `'Palatino Linotype', Palatino, 'Book Antiqua', serif` },
  system: { label: 'System sans-serif', stack: `-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif` },
  helvetica: { label: 'Helvetica / Arial', stack: `Helvetica, Arial, sans-serif` },
  verdana: { label: 'Verdana', stack: `Verdana, Geneva, sans-serif` },
  trebuchet: { label: 'Trebuchet MS', stack: `'Trebuchet MS', Tahoma, sans-serif` },
} as const;
export type Font = keyof typeof FONTS;

export const SANS_STACK = FONTS.system.stack;
export const DEFAULT_ACCENT = '#1f5fbf';

export interface Colours {
  fg: string;
  muted: string;
  bg: string;
  card: string;
  line: string;
}

const LIGHT: Colours = { fg: '#1b1f24', muted: '#4a525c', bg: '#f4f4f1', card: '#ffffff', line: '#d9dcd6' };
const DARK: Colours = { fg: '#e8eaed', muted: '#b7bfc9', bg: '#15181c', card: '#1e2227', line: '#343a42' };

/** Modern is an open page (the card is the page); plain has no card either. */
function coloursFor(theme: Theme, dark: boolean): Colours {
  const base = dark ? DARK : LIGHT;
  if (theme === 'classic') return base;
  return { ...base, bg: base.card, line: dark ? '#2c3138' : '#e4e7eb' };
}

/** The newsletter's design columns (migration 0021); all optional, so a bare name renders the defaults. */
export type DesignSource = Pick<NewsletterRow, 'name'> &
  Partial<Pick<NewsletterRow, 'theme' | 'accent_color' | 'palette' | 'font' | 'footer_text' | 'web_css' | 'email_css' | 'logo_file' | 'logo_width' | 'logo_height'>>;

export interface Logo {
  url: string;
  iconUrl: string;
  /** Display size: the file is stored at twice this, to stay sharp on high-density screens. */
  width: number;
  height: number;
}

export interface Brand {
  name: string;
  theme: Theme;
  palette: Palette;
  fontStack: string;
  /** The palette a reader sees by default (and always, unless the palette is auto). */
  colours: Colours;
  accent: string;
  accentFg: string;
  /** Auto palette only: the dark side, with the accent made readable on it. */
  dark: { colours: Colours; accent: string; accentFg: string } | undefined;
  footerText: string;
  webCss: string;
  emailCss: string;
  logo: Logo | undefined;
  /** The accent against the page and card backgrounds of `colours`: AA needs 4.5. */
  contrast: { ratio: number; passes: boolean };
}

const isTheme = (v: unknown): v is Theme => typeof v === 'string' && Object.hasOwn(THEMES, v);
const isPalette = (v: unknown): v is Palette => typeof v === 'string' && Object.hasOwn(PALETTES, v);
const isFont = (v: unknown): v is Font => typeof v === 'string' && Object.hasOwn(FONTS, v);
export const HEX_COLOUR = /^#[0-9a-f]{6}$/i;

/** Logos live at /brand/<file>; `baseUrl` makes the URL absolute (emails need that). */
export function brandFileUrl(baseUrl: string, file: string): string {
  return `${baseUrl}/brand/${file}`;
}

export function brandOf(n: DesignSource, baseUrl = ''): Brand {
  const theme = isTheme(n.theme) ? n.theme : 'classic';
  const palette = isPalette(n.palette) ? n.palette : 'auto';
  const accent = n.accent_color && HEX_COLOUR.test(n.accent_color) ? n.accent_color.toLowerCase() : DEFAULT_ACCENT;
  const colours = coloursFor(theme, palette === 'dark');
  const darkColours = coloursFor(theme, true);
  const darkAccent = readableOn(accent, darkColours.card);
  const ratio = Math.min(contrastRatio(accent, colours.bg), contrastRatio(accent, colours.card));
  return {
    name: n.name,
    theme,
    palette,
    fontStack: FONTS[isFont(n.font) ? n.font : 'georgia'].stack,
    colours,
    accent,
    accentFg: textOn(accent),
    dark: palette === 'auto' ? { colours: darkColours, accent: darkAccent, accentFg: textOn(darkAccent) } : undefined,
    footerText: n.footer_text ?? '',
    webCss: n.web_css ?? '',
    emailCss: n.email_css ?? '',
    logo: n.logo_file
      ? {
          url: brandFileUrl(baseUrl, n.logo_file),
          iconUrl: brandFileUrl(baseUrl, n.logo_file.replace(/\.png$/, '-icon.png')),
          width: Math.max(1, Math.round((n.logo_width ?? 2) / 2)),
          height: Math.max(1, Math.round((n.logo_height ?? 2) / 2)),
        }
      : undefined,
    contrast: { ratio: Math.round(ratio * 100) / 100, passes: ratio >= AA_TEXT },
  };
}

function vars(c: Colours, accent: string, accentFg: string): string {
  return `--fg: ${c.fg}; --muted: ${c.muted}; --bg: ${c.bg}; --card: ${c.card}; --line: ${c.line}; --accent: ${accent}; --accent-fg: ${accentFg};`;
}

const WEB_THEME_RULES: Record<Theme, string> = {
  classic: '',
  modern: [
    'main.public .card, main:not(.public) > article { border: 0; border-top: 4px solid var(--accent); border-radius: 0; }',
    'h1, h2, h3 { letter-spacing: -0.01em; }',
  ].join('\n'),
  plain: [
    'main.public .card, main:not(.public) > article { border: 0; background: transparent; border-radius: 0; box-shadow: none; }',
    'a { text-decoration: underline; }',
  ].join('\n'),
};

/**
 * The CSS a branded web page adds after its own stylesheet: the palette as the variables both the reader
 * pages (public/app.css) and the archive layout use, the font, the theme's rules, then the writer's CSS.
 * Every value is from a fixed list or a checked hex colour, and the writer's CSS was sanitised when saved.
 */
export function webBrandCss(brand: Brand): string {
  const scheme = brand.palette === 'auto' ? 'light dark' : brand.palette;
  const dark = brand.dark ?? { colours: brand.colours, accent: brand.accent, accentFg: brand.accentFg };
  return [
    `:root { ${vars(brand.colours, brand.accent, brand.accentFg)} color-scheme: ${scheme}; }`,
    `@media (prefers-color-scheme: dark) { :root { ${vars(dark.colours, dark.accent, dark.accentFg)} } }`,
    `body { font-family: ${brand.fontStack}; }`,
    '.brand-masthead { display: flex; align-items: center; gap: .75rem; max-width: 42rem; margin: 0 auto; padding: 1.25rem 1rem .25rem; }',
    '.brand-masthead a { color: var(--fg); text-decoration: none; font-weight: 600; display: inline-flex; flex-wrap: wrap; align-items: center; gap: .5rem .75rem; }',
    '.brand-masthead img { display: block; max-width: 100%; height: auto; }',
    '.brand-footer { max-width: 42rem; margin: 0 auto; padding: 1rem; text-align: center; color: var(--muted); font-size: .9rem; white-space: pre-line; }',
    WEB_THEME_RULES[brand.theme],
    brand.webCss,
  ]
    .filter(Boolean)
    .join('\n')
    .replace(/</g, '\\3c ');
}
