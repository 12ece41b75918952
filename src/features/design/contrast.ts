/**
 * WCAG 2.x contrast: relative luminance of sRGB colours and the ratio between two of them. AA asks for
 * 4.5:1 for normal text, which links and button labels are.
 */

export const AA_TEXT = 4.5;

type Rgb = [number, number, number];

export function parseHex(hex: string): Rgb {
  const h = hex.replace('#', '');
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as Rgb;
}

function toHex(rgb: Rgb): string {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

function luminance([r, g, b]: Rgb): number {
  const channel = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

export function contrastRatio(a: string, b: string): number {
  const [la, lb] = [luminance(parseHex(a)), luminance(parseHex(b))];
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** Black or white, whichever reads better on `background` (at least 4.58:1 for any colour). */
export function textOn(background: string): string {
  return contrastRatio(background, '#ffffff') >= contrastRatio(background, '#000000') ? '#ffffff' : '#000000';
}

/**
 * `colour` moved toward white (on dark backgrounds) or black (on light ones) in small steps until it reads
 * at AA on `background`: the writer's hue kept where their exact colour would be illegible.
 */
export function readableOn(colour: string, background: string, ratio = AA_TEXT): string {
  const target: Rgb = luminance(parseHex(background)) < 0.2 ? [255, 255, 255] : [0, 0, 0];
  const start = parseHex(colour);
  for (let step = 0; step <= 20; step++) {
    const mixed = start.map((c, i) => c + ((target[i]! - c) * step) / 20) as Rgb;
    const hex = toHex(mixed);
    if (contrastRatio(hex, background) >= ratio) return hex;
  }
  return toHex(target);
}
