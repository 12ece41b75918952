import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NewsletterRow } from '../../../src/db/tables/newsletters.js';
import type { PostRow } from '../../../src/db/tables/posts.js';
import { escapeHtml, parseMerge, renderMerge, type MergeValues } from '../../../src/lib/merge.js';
import { checkPost } from '../../../src/features/posts/checks.js';
import { renderPost, renderPostEmail } from '../../../src/features/posts/email.js';
import { renderMarkdown } from '../../../src/features/posts/markdown.js';

const NEWSLETTER = { name: 'The <Weekly> & Co', postal_address: '1 Main Street\nSpringfield 12345' } as NewsletterRow;

function post(body: string, extra: Partial<PostRow> = {}): PostRow {
  return { subject: 'Hello', preheader: '', body, ...extra } as PostRow;
}

const VALUES: MergeValues = {
  subscriber: { name: 'Ada Lovelace', email: 'ada@example.com', attributes: { city: 'London' } },
  newsletter: { name: 'Weekly' },
  post: { subject: 'Hello' },
  web_url: 'https://example.com/n/weekly/archive/hello',
  unsubscribe_url: 'https://example.com/unsubscribe/TOKEN',
  preferences_url: 'https://example.com/preferences/TOKEN',
};

/** What the sending engine does per recipient: parse the compiled content once, fill each field. */
function personalise(content: { subject: string; html: string; text: string }, values: MergeValues) {
  return {
    subject: renderMerge(parseMerge(content.subject).segments, values),
    html: renderMerge(parseMerge(content.html).segments, values, escapeHtml),
    text: renderMerge(parseMerge(content.text).segments, values),
  };
}

describe('Markdown rendering', () => {
  it('renders GFM: headings, emphasis, links, images, code blocks and tables', () => {
    const { html } = renderMarkdown(
      '# Title\n\nSome **bold** and _italic_ [a link](https://example.com/x?a=1&b=2).\n\n![A cat](https://example.com/cat.png)\n\n```js\nconst a = 1 < 2;\n```\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n\n~~gone~~',
    );
    assert.match(html, /<h1>Title<\/h1>/);
    assert.match(html, /<strong>bold<\/strong> and <em>italic<\/em>/);
    assert.match(html, /<a href="https:\/\/example.com\/x\?a=1&amp;b=2">a link<\/a>/);
    assert.match(html, /<img src="https:\/\/example.com\/cat.png" alt="A cat" \/>/);
    assert.match(html, /<pre><code class="language-js">const a = 1 &lt; 2;/);
    assert.match(html, /<table>[\s\S]*<th>a<\/th>[\s\S]*<td align="center">2<\/td>/);
    assert.match(html, /<del>gone<\/del>/);
  });

  it('strips scripts, iframes, event handlers, styles, forms and javascript:/data: URLs', () => {
    const hostile = [
      '<script>fetch("/admin/api", {method: "POST"})</script>',
      '<iframe src="https://evil.example"></iframe>',
      '<img src="https://example.com/x.png" onerror="alert(1)" alt="x">',
      '<a href="javascript:alert(1)">js</a>',
      '<a href="JaVaScRiPt&colon;alert(1)">js2</a>',
      '[md js](javascript:alert(1))',
      '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
      '<img src="data:image/svg+xml;base64,AAAA" alt="svg">',
      '<div style="background:url(javascript:alert(1))" onclick="x()">div</div>',
      '<form action="https://evil.example"><input name="q"><button>go</button></form>',
      '<svg><script>alert(1)</script></svg>',
      '<object data="x.swf"></object><embed src="x.swf">',
      '<a href="//evil.example/">protocol-relative</a>',
      '<style>body{display:none}</style>',
      '<p onmouseover="alert(1)">hover</p>',
    ].join('\n\n');
    const { html, links } = renderMarkdown(hostile);
    assert.doesNotMatch(html, /<script|<iframe|<object|<embed|<svg|<form|<input|<style|<div/i);
    assert.doesNotMatch(html, /\son[a-z]+=/i);
    assert.doesNotMatch(html, /javascript:|data:|evil\.example/i);
    assert.doesNotMatch(html, /alert\(1\)<\/script>|fetch\(/);
    // The links are still reported as written, so the pre-send checks can name them.
    assert.ok(links.includes('javascript:alert(1)'));
    assert.match(html, /<img src="https:\/\/example.com\/x.png" alt="x" \/>/);
  });
});

describe('the post email', () => {
  it('keeps merge tags intact through Markdown, the sanitiser, the inliner and the text conversion', async () => {
    const content = await renderPostEmail(
      post(
        'Hi {{ subscriber.name | default: "friend" }},\n\n' +
          'You live in {{ subscriber.attributes.city | default: \'somewhere\' }}. Read [on the web]({{ web_url }}) ' +
          'or [leave]({{unsubscribe_url}}).\n\n| who | where |\n|---|---|\n| {{ subscriber.first_name }} | x |\n\n**{{ subscriber.email }}**',
        { subject: 'News for {{ subscriber.name | default: "friend" }}', preheader: 'Hi {{ subscriber.first_name }}' },
      ),
      NEWSLETTER,
    );
    assert.equal(content.subject, 'News for {{ subscriber.name | default: "friend" }}');
    assert.match(content.html, /Hi \{\{ subscriber.name \| default: "friend" \}\},/);
    assert.match(content.html, /href="\{\{ web_url \}\}"/);
    assert.match(content.html, /href="\{\{ unsubscribe_url \}\}"/);
    assert.match(content.html, /href="\{\{ preferences_url \}\}"/);
    assert.match(content.html, /<td[^>]*>\{\{ subscriber.first_name \}\}<\/td>/);
    assert.match(content.html, /<strong>\{\{ subscriber.email \}\}<\/strong>/);
    assert.match(content.text, /Hi \{\{ subscriber.name \| default: "friend" \}\},/);
    assert.match(content.text, /\{\{ web_url \}\}/);
    assert.match(content.text, /Unsubscribe: \{\{ unsubscribe_url \}\}/);
    // Every tag left in the output is one the engine understands.
    for (const part of [content.subject, content.html, content.text]) assert.deepEqual(parseMerge(part).problems, []);

    const mail = personalise(content, VALUES);
    assert.equal(mail.subject, 'News for Ada Lovelace');
    assert.match(mail.html, /Hi Ada Lovelace,/);
    assert.match(mail.html, /You live in London\./);
    assert.match(mail.html, /href="https:\/\/example.com\/n\/weekly\/archive\/hello"/);
    assert.match(mail.html, /href="https:\/\/example.com\/unsubscribe\/TOKEN"/);
    assert.match(mail.html, />Hi Ada&#8199;/);
    assert.match(mail.text, /Unsubscribe: https:\/\/example.com\/unsubscribe\/TOKEN/);
    assert.doesNotMatch(mail.html + mail.text, /\{\{|\}\}/);
  });

  it('renders missing merge data as the default or empty, and hostile values escaped', async () => {
    const content = await renderPostEmail(
      post('Dear {{ subscriber.name | default: "reader" }} from {{ subscriber.attributes.city }}! [x]({{ preferences_url }})'),
      NEWSLETTER,
    );
    const missing = personalise(content, { subscriber: { name: '  ', email: 'x@example.com', attributes: {} } });
    assert.match(missing.html, /Dear reader from !/);
    assert.match(missing.html, /href=""/);

    const hostile = personalise(content, {
      ...VALUES,
      subscriber: { name: '<img src=x onerror=alert(1)>"\'', email: 'x@example.com', attributes: { city: '</p><script>alert(1)</script>' } },
      preferences_url: '"><script>alert(2)</script>',
    });
    assert.doesNotMatch(hostile.html, /<script|<img src=x/);
    assert.match(hostile.html, /Dear &lt;img src=x onerror=alert\(1\)&gt;&quot;&#39; from &lt;\/p&gt;&lt;script&gt;/);
    assert.match(hostile.html, /href="&quot;&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;"/);
  });

  it('drops tags that reach for the environment or code, and the checks name them', async () => {
    const body = 'A {{ env "DATABASE_URL" }} B {{ process.env.SECRET_KEY }} C {{ constructor.constructor("return process")() }} D {{ subscriber.password }} E {{ "x" | repeat: 100000000 }}';
    const rendered = await renderPost(post(body), NEWSLETTER);
    const mail = personalise(rendered, VALUES);
    assert.doesNotMatch(mail.html + mail.text, /DATABASE_URL|SECRET_KEY|process|constructor|repeat/);
    assert.match(mail.html, /A  B  C  D  E/);
    const problems = checkPost(post(body), rendered).map((c) => c.message);
    assert.equal(problems.filter((m) => m.startsWith('Merge tag in the body')).length, 5);
    assert.ok(problems.some((m) => m.includes('{{ env "DATABASE_URL" }} is not a merge tag')));
    assert.ok(problems.some((m) => m.includes('unknown name "process.env.SECRET_KEY"')));
  });

  it('is one responsive template: inlined styles, dark-mode rules, preheader, footer with address and links', async () => {
    const { html, text } = await renderPostEmail(post('Body text', { preheader: 'The short preview' }), NEWSLETTER);
    assert.match(html, /^<!doctype html>/i);
    assert.match(html, /<td class="card" style="[^"]*background-color: #ffffff/);
    assert.match(html, /@media \(prefers-color-scheme: dark\)/);
    assert.match(html, /@media \(max-width: 620px\)/);
    assert.match(html, /<meta name="color-scheme" content="light dark">/);
    assert.match(html, /<div class="preheader"[^>]*style="display: none;[^"]*">The short preview/);
    assert.match(html, /The &lt;Weekly&gt; &amp; Co/);
    assert.match(html, /1 Main Street, Springfield 12345/);
    assert.match(html, />View in your browser</);
    assert.match(html, />Manage preferences</);
    assert.match(html, />Unsubscribe</);
    assert.match(text, /^The <Weekly> & Co\n\nHello\n\nBody text\n/);
    assert.match(text, /1 Main Street\nSpringfield 12345/);
    assert.match(text, /View in your browser: \{\{ web_url \}\}/);
  });

  it('renders a hostile subject and preheader as text', async () => {
    const { html, subject } = await renderPostEmail(post('x', { subject: '<script>alert(1)</script>\r\nBcc: x@y', preheader: '"><img src=x>' }), NEWSLETTER);
    assert.doesNotMatch(html, /<script>alert|<img src=x>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.equal(subject, '<script>alert(1)</script> Bcc: x@y');
  });
});

describe('pre-send checks', () => {
  async function checks(p: PostRow) {
    return checkPost(p, await renderPost(p, NEWSLETTER));
  }

  it('passes a clean post', async () => {
    assert.deepEqual(await checks(post('Hi [there](https://example.com) ![A dog](https://example.com/d.png) [mail me](mailto:me@example.com) [web]({{ web_url }})')), []);
  });

  it('reports a missing subject and an empty body as errors', async () => {
    const result = await checks(post('   ', { subject: '' }));
    assert.deepEqual(
      result.filter((c) => c.level === 'error').map((c) => c.message),
      ['The subject is missing.', 'The body is empty.'],
    );
  });

  it('reports broken merge tags in the subject, preheader and body', async () => {
    const result = await checks(post('Hi {{ subscriber.nmae }} and {{ unclosed', { subject: 'Hi {{ subscriber }}', preheader: '{{ post.title }}' }));
    const messages = result.map((c) => c.message);
    assert.ok(messages.some((m) => m.startsWith('Merge tag in the subject: {{ subscriber }}')));
    assert.ok(messages.some((m) => m.startsWith('Merge tag in the preheader: {{ post.title }}')));
    assert.ok(messages.some((m) => m.startsWith('Merge tag in the body: {{ subscriber.nmae }}')));
    assert.ok(messages.some((m) => m.includes('is never closed')));
    assert.ok(result.every((c) => c.level === 'warning'));
  });

  it('reports relative, non-http and merge-built links, and images without alt text', async () => {
    const result = await checks(
      post('[a](/relative) [b](#top) [c](ftp://files.example.com/x) [d](javascript:alert(1)) [e]({{ subscriber.attributes.site }}) ![](https://example.com/noalt.png) ![x](images/rel.png)'),
    );
    const messages = result.map((c) => c.message);
    assert.ok(messages.some((m) => m.startsWith('The link "/relative" is relative')));
    assert.ok(messages.some((m) => m.startsWith('The link "#top" is relative')));
    assert.ok(messages.some((m) => m.startsWith('The link "ftp://files.example.com/x" uses "ftp:"')));
    assert.ok(messages.some((m) => m.startsWith('The link "javascript:alert(1)" uses "javascript:"')));
    assert.ok(messages.some((m) => m.startsWith('The link "{{ subscriber.attributes.site }}" is built from a merge tag')));
    assert.ok(messages.some((m) => m.startsWith('The image "https://example.com/noalt.png" has no alt text')));
    assert.ok(messages.some((m) => m.startsWith('The image "images/rel.png" is relative')));
  });

  it('warns near and over Gmail’s 102 KB clipping limit', async () => {
    const para = 'word '.repeat(180) + '\n\n';
    const near = await checks(post(para.repeat(95)));
    assert.ok(near.some((c) => /close to Gmail's 102 KB clipping limit/.test(c.message)), JSON.stringify(near));
    const over = await checks(post(para.repeat(130)));
    assert.ok(over.some((c) => /Gmail clips messages over 102 KB/.test(c.message)));
    assert.ok(!(await checks(post(para.repeat(10)))).some((c) => /KB/.test(c.message)));
  });
});

describe('renders kept by their inputs', () => {
  it('gives the same frozen render for the same post, and a fresh one when any input changes', async () => {
    const base = post('Kept body {{ subscriber.name }}', { subject: 'Kept subject', preheader: 'Kept preheader' });
    const first = await renderPost(base, NEWSLETTER);
    assert.equal(await renderPost({ ...base }, { ...NEWSLETTER }), first, 'equal inputs share one render');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.inventory) && Object.isFrozen(first.inventory.links));
    assert.throws(() => {
      (first as { html: string }).html = 'changed';
    }, TypeError);

    const changes: Array<[string, PostRow, NewsletterRow, string]> = [
      ['body', { ...base, body: 'Edited body' }, NEWSLETTER, 'Edited body'],
      ['subject', { ...base, subject: 'Edited subject' }, NEWSLETTER, 'Edited subject'],
      ['preheader', { ...base, preheader: 'Edited preheader' }, NEWSLETTER, 'Edited preheader'],
      ['newsletter name', base, { ...NEWSLETTER, name: 'Edited Name' }, 'Edited Name'],
      ['postal address', base, { ...NEWSLETTER, postal_address: '9 Edited Road' }, '9 Edited Road'],
    ];
    for (const [what, p, n, text] of changes) {
      const again = await renderPost(p, n);
      assert.notEqual(again, first, `a changed ${what} renders afresh`);
      assert.ok(again.html.includes(text), `the ${what} change is in the new render`);
      assert.ok(!first.html.includes(text), `the kept render still has the old ${what}`);
    }
  });
});
