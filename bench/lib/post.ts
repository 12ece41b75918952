/** A realistic issue: about 5 KB of Markdown, headings, a list, links, a quote, name personalisation. */
export function realisticMarkdown(): string {
  const para = (n: number) =>
    `Paragraph ${n}: the week in small tools and slow web. We looked at how newsletters reach inboxes, why ` +
    `one-click unsubscribe matters, and what a reader expects from a plain, honest email. See [the notes](https://example.com/notes/${n}) ` +
    `and the [archive](https://example.com/archive) for earlier issues; replies are always welcome.`;
  return [
    'Hello {{ subscriber.first_name | default: "friend" }},',
    '',
    '## What happened this week',
    '',
    para(1),
    '',
    para(2),
    '',
    '- A link to [a long read](https://example.com/long-read)',
    '- A link to [a short video](https://example.com/video)',
    '- A link to [a good tool](https://example.com/tool)',
    '',
    '> Write the newsletter you would want to receive.',
    '',
    '## Notes from readers',
    '',
    para(3),
    '',
    para(4),
    '',
    '## Further reading',
    '',
    para(5),
    '',
    para(6),
    '',
    para(7),
    '',
    para(8),
    '',
    'Until next week,  ',
    'The Bench Writer',
  ].join('\n');
}
