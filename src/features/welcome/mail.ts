import { parseJsonObject } from '../../db/codec.js';
import type { NewsletterRow } from '../../db/tables/newsletters.js';
import { mailboxText, senderOf } from '../../domain/sender.js';
import { escapeHtml, parseMerge, renderMerge, type MergeValues } from '../../lib/merge.js';
import { publicUrls } from '../../lib/urls.js';
import type { OutgoingMail } from '../../sending/mailer.js';
import { renderPost } from '../posts/email.js';

export interface WelcomeText {
  subject: string;
  body: string;
}

export const DEFAULT_WELCOME: WelcomeText = {
  subject: 'Welcome to {{ newsletter.name }}',
  body: 'Hello {{ subscriber.first_name | default: "there" }},\n\nThank you for subscribing to **{{ newsletter.name }}**. New posts will arrive in this inbox.\n\nYou can change your preferences or unsubscribe at any time with the links at the bottom of every email.',
};

export interface WelcomeRecipient {
  email: string;
  name: string;
  token: string;
  attributes: string;
}

/** The merge values of a welcome: a subscriber's own, or the writer's for the preview. */
export function welcomeValues(baseUrl: string, newsletter: Pick<NewsletterRow, 'name' | 'slug'>, text: WelcomeText, who: { email: string; name: string; token?: string; attributes?: string }): MergeValues {
  const urls = publicUrls(baseUrl);
  const home = urls.home(newsletter.slug);
  return {
    subscriber: { name: who.name, email: who.email, attributes: who.attributes ? parseJsonObject(who.attributes) : {} },
    newsletter: { name: newsletter.name },
    post: { subject: text.subject },
    web_url: home,
    unsubscribe_url: who.token ? urls.unsubscribe(who.token) : home,
    preferences_url: who.token ? urls.preferences(who.token) : home,
  };
}

/**
 * The welcome rendered in the newsletter's email template, as a post is (the same Markdown, merge tags and
 * design), with the merge tags filled for one reader.
 */
export async function renderWelcome(newsletter: NewsletterRow, text: WelcomeText, values: MergeValues, baseUrl: string) {
  // The server's address makes the newsletter's logo (served from it) absolute, as in a post.
  const rendered = await renderPost({ subject: text.subject, preheader: '', body: text.body }, newsletter, baseUrl);
  const fill = (s: string, escape?: (s: string) => string) => renderMerge(parseMerge(s).segments, values, escape);
  return { subject: fill(rendered.subject).replace(/\s+/g, ' ').trim(), html: fill(rendered.html, escapeHtml), text: fill(rendered.text), rendered };
}

export async function welcomeMail(newsletter: NewsletterRow, text: WelcomeText, to: WelcomeRecipient, config: { baseUrl: string; mailFrom: string }): Promise<OutgoingMail> {
  const values = welcomeValues(config.baseUrl, newsletter, text, to);
  const { subject, html, text: plain } = await renderWelcome(newsletter, text, values, config.baseUrl);
  const sender = senderOf(newsletter, config.mailFrom);
  return {
    from: mailboxText(sender),
    to: to.email,
    ...(sender.replyTo ? { replyTo: sender.replyTo } : {}),
    subject,
    html,
    text: plain,
    // RFC 8058: the same one-click address as a post's.
    headers: { 'List-Unsubscribe': `<${values.unsubscribe_url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  };
}
