import { z } from 'zod';
import { FONTS, HEX_COLOUR, PALETTES, THEMES, type Font, type Palette, type Theme } from './themes.js';

export const CSS_MAX = 20_000;

const keyOf = <T extends string>(choices: Record<T, unknown>, message: string) =>
  z.string({ error: message }).refine((v): v is T => Object.hasOwn(choices, v), message).transform((v) => v as T);

const css = z
  .string()
  .default('')
  .refine((v) => v.length <= CSS_MAX, `Use at most ${CSS_MAX.toLocaleString('en')} characters of CSS.`)
  .transform((v) => v.replace(/\r\n?/g, '\n'));

/** The Design form: every choice from a fixed list, the colour as #rrggbb, the CSS sanitised later. */
export const designSchema = z.object({
  theme: keyOf<Theme>(THEMES, 'Choose a theme.'),
  accent_color: z
    .string({ error: 'Enter a colour like #1f5fbf.' })
    .trim()
    .transform((v) => (v.startsWith('#') ? v : `#${v}`).toLowerCase())
    .refine((v) => HEX_COLOUR.test(v), 'Enter a colour as # and six hexadecimal digits, like #1f5fbf.'),
  palette: keyOf<Palette>(PALETTES, 'Choose light, dark or automatic.'),
  font: keyOf<Font>(FONTS, 'Choose a font from the list.'),
  footer_text: z.string().trim().max(500, 'Use at most 500 characters.').default('').transform((v) => v.replace(/\r\n?/g, '\n')),
  web_css: css,
  email_css: css,
});

export type DesignInput = z.infer<typeof designSchema>;
