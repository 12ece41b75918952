import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AA_TEXT, contrastRatio, readableOn, textOn } from '../../../src/features/design/contrast.js';
import { brandOf, webBrandCss } from '../../../src/features/design/themes.js';

describe('contrast (WCAG 2)', () => {
  it('computes the ratios the WCAG examples give', () => {
    assert.equal(contrastRatio('#000000', '#ffffff'), 21);
    assert.equal(contrastRatio('#ffffff', '#ffffff'), 1);
    assert.equal(Math.round(contrastRatio('#767676', '#ffffff') * 100) / 100, 4.54, 'the lightest grey that passes AA on white');
    assert.ok(contrastRatio('#777777', '#ffffff') < AA_TEXT);
  });

  it('picks the label colour that reads on any accent, and lifts an accent until it reads', () => {
    for (const accent of ['#000000', '#ffffff', '#777777', '#f0e68c', '#1f5fbf', '#ff0000', '#00ff00', '#8a1c4a']) {
      assert.ok(contrastRatio(accent, textOn(accent)) >= AA_TEXT, `label on ${accent}`);
      for (const bg of ['#1e2227', '#ffffff']) assert.ok(contrastRatio(readableOn(accent, bg), bg) >= AA_TEXT, `${accent} on ${bg}`);
    }
    assert.equal(readableOn('#ffffff', '#1e2227'), '#ffffff', 'a colour that already reads is kept');
  });
});

describe('brand', () => {
  it('falls back to the defaults for a bare name or unknown values', () => {
    const b = brandOf({ name: 'Plain', theme: 'neon', palette: 'sepia', font: 'comic', accent_color: 'red' });
    assert.deepEqual([b.theme, b.palette, b.accent, b.logo, b.footerText], ['classic', 'auto', '#1f5fbf', undefined, '']);
    assert.match(b.fontStack, /^Georgia/);
    assert.equal(b.contrast.passes, true);
  });

  it('checks the accent against the palette the reader sees, and makes the dark side readable', () => {
    const light = brandOf({ name: 'N', accent_color: '#f0e68c', palette: 'light' });
    assert.equal(light.contrast.passes, false);
    const dark = brandOf({ name: 'N', accent_color: '#f0e68c', palette: 'dark' });
    assert.equal(dark.contrast.passes, true);
    assert.equal(dark.dark, undefined, 'a fixed palette has no second side');
    const auto = brandOf({ name: 'N', accent_color: '#1f3a8a', palette: 'auto' });
    assert.ok(auto.dark && contrastRatio(auto.dark.accent, auto.dark.colours.card) >= AA_TEXT);
    assert.match(webBrandCss(auto), new RegExp(`@media \\(prefers-color-scheme: dark\\) \\{ :root \\{[^}]*--accent: ${auto.dark.accent}`));
  });

  it('links the logo and its favicon from the server, at half the stored size', () => {
    const b = brandOf({ name: 'N', logo_file: `${'a'.repeat(64)}.png`, logo_width: 400, logo_height: 120 }, 'https://news.example');
    assert.deepEqual(b.logo, { url: `https://news.example/brand/${'a'.repeat(64)}.png`, iconUrl: `https://news.example/brand/${'a'.repeat(64)}-icon.png`, width: 200, height: 60 });
  });

  it('never lets the writer’s CSS close the style element', () => {
    assert.doesNotMatch(webBrandCss(brandOf({ name: 'N', web_css: 'a { content: "</style>" }' })), /<\/style/);
  });
});
