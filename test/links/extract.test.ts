import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyLink, extractLinks } from '../../src/features/links/extract.js';
import { createLimiter } from '../../src/features/links/limiter.js';
import { replaceUrl } from '../../src/features/links/service.js';
import { renderPost } from '../../src/features/posts/email.js';

const BASE = 'https://news.example.org';

describe('extracting the links of a draft', () => {
  it('takes links, images and the template’s own links from the email as rendered, each once, with their text', async () => {
    const rendered = await renderPost(
      {
        subject: 'Hello',
        preheader: '',
        body: [
          'Read [the report](https://example.com/report?a=1&b=2) and [the report again](https://example.com/report?a=1&b=2).',
          '![A chart](https://cdn.example.com/chart.png)',
          '<a href="https://example.com/button" class="button">Buy the book</a>',
          '[Write to me](mailto:olive@example.com) · [leave]({{ unsubscribe_url }})',
        ].join('\n\n'),
      },
      { name: 'Weekly', postal_address: '1 Main Street' },
    );
    const links = extractLinks(rendered.html, BASE);
    const byUrl = new Map(links.map((l) => [l.url, l]));
    assert.deepEqual(byUrl.get('https://example.com/report?a=1&b=2')?.labels, ['the report', 'the report again'], 'entities decoded, deduplicated');
    assert.equal(byUrl.get('https://example.com/report?a=1&b=2')?.kind, 'web');
    assert.deepEqual(byUrl.get('https://cdn.example.com/chart.png'), { url: 'https://cdn.example.com/chart.png', kind: 'web', labels: ['image: A chart'], image: true });
    assert.equal(byUrl.get('https://example.com/button')?.labels[0], 'Buy the book');
    assert.equal(byUrl.get('mailto:olive@example.com')?.kind, 'contact');
    for (const own of ['{{ unsubscribe_url }}', '{{ web_url }}', '{{ preferences_url }}']) assert.equal(byUrl.get(own)?.kind, 'personal', own);
    assert.equal(links.length, 7);
  });

  it('classifies links without any request', () => {
    const cases: Array<[string, string]> = [
      ['https://example.com/', 'web'],
      ['http://example.com/a b', 'web'],
      ['https://example.com/?who={{ subscriber.email }}', 'personal'],
      ['{{unsubscribe_url}}', 'personal'],
      [`${BASE}/unsubscribe/abc`, 'personal'],
      [`${BASE}/preferences/abc`, 'personal'],
      [`${BASE}/n/weekly/archive/first`, 'personal'],
      [`${BASE}/n/weekly`, 'web'],
      ['mailto:a@example.com,b@example.com?subject=Hi', 'contact'],
      ['mailto:', 'invalid'],
      ['mailto:nobody', 'invalid'],
      ['tel:+44 20 7946 0958', 'contact'],
      ['tel:call-me', 'invalid'],
      ['/relative', 'invalid'],
      ['example.com', 'invalid'],
      ['javascript:alert(1)', 'invalid'],
      ['ftp://example.com/file', 'invalid'],
      ['https://', 'invalid'],
      ['', 'invalid'],
    ];
    for (const [url, kind] of cases) assert.equal(classifyLink(url, BASE).kind, kind, url);
  });
});

describe('using the final URL', () => {
  it('replaces the address where it stands whole, not where it starts a longer one', () => {
    const from = 'https://example.com/x?a=1';
    const to = 'https://example.org/final';
    const markdown = [
      `[link](${from}) and <${from}> and ${from}.`,
      `[longer](${from}&b=2) [path](https://example.com/x?a=1/more) [title](${from} "Title")`,
      `<a href="${from}">html</a>, then ${from}, and (${from})`,
    ].join('\n');
    assert.equal(
      replaceUrl(markdown, from, to),
      [
        `[link](${to}) and <${to}> and ${to}.`,
        `[longer](${from}&b=2) [path](https://example.com/x?a=1/more) [title](${to} "Title")`,
        `<a href="${to}">html</a>, then ${to}, and (${to})`,
      ].join('\n'),
    );
    assert.equal(replaceUrl('no links here', from, to), 'no links here');
    assert.equal(replaceUrl('cost $1 at https://a.test/$1', 'https://a.test/$1', 'https://b.test/$&'), 'cost $1 at https://b.test/$&', 'replacement text is taken literally');
  });
});

describe('the check limiter', () => {
  it('runs at most the total at once, and at most the per-host limit for one host', async () => {
    const run = createLimiter(3, 2);
    let running = 0;
    let most = 0;
    const perHost = new Map<string, number>();
    let mostPerHost = 0;
    const releases: Array<() => void> = [];
    const task = (host: string) =>
      run(host, () => {
        running++;
        perHost.set(host, (perHost.get(host) ?? 0) + 1);
        most = Math.max(most, running);
        mostPerHost = Math.max(mostPerHost, perHost.get(host)!);
        return new Promise<void>((resolve) =>
          releases.push(() => {
            running--;
            perHost.set(host, perHost.get(host)! - 1);
            resolve();
          }),
        );
      });
    const all = Promise.all(['a', 'a', 'a', 'a', 'b', 'c', 'c'].map(task));
    // Release tasks one by one, in the order they started, until all are done.
    for (let done = 0; done < 7; done++) {
      await new Promise((r) => setImmediate(r));
      releases.shift()!();
    }
    await all;
    assert.equal(most, 3);
    assert.equal(mostPerHost, 2);
  });
});
