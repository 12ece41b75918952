import type { NewsletterRow } from '../../db/tables/newsletters.js';
import { escapeHtml } from '../../lib/merge.js';
import type { OutgoingMail } from '../../sending/mailer.js';
import { mailboxText, type Sender } from '../../domain/sender.js';

/**
 * System mail to readers. It deliberately contains nothing the reader typed (not even their name): until
 * an address is confirmed, anyone could have typed it, and the name field is the classic spam vector.
 */

function shell(title: string, paragraphs: string[], button?: { href: string; label: string }): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${p}</p>`).join('');
  const cta = button
    ? `<p style="margin:24px 0"><a href="${escapeHtml(button.href)}" style="background:#1f5fbf;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block">${escapeHtml(button.label)}</a></p>`
    : '';
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head><body style="margin:0;padding:24px;font-family:system-ui,-apple-system,Segoe UI,Roboto,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1b1f24;background:#ffffff"><div style="max-width:560px;margin:0 auto">${body}${cta}</div></body></html>`;
}

const systemHeaders = { 'Auto-Submitted': 'auto-generated' };

export function confirmationEmail(newsletter: NewsletterRow, sender: Sender, to: string, confirmUrl: string): OutgoingMail {
  const name = escapeHtml(newsletter.name);
  return {
    from: mailboxText(sender),
    to,
    ...(sender.replyTo ? { replyTo: sender.replyTo } : {}),
    subject: `Confirm your subscription to ${newsletter.name}`,
    headers: systemHeaders,
    text: [
      `Please confirm that you want to receive ${newsletter.name}.`,
      '',
      `Confirm your subscription: ${confirmUrl}`,
      '',
      'The link works for 7 days. If you did not ask to subscribe, ignore this email: you will not be added and will not hear from us again.',
    ].join('\n'),
    html: shell(
      `Confirm your subscription to ${newsletter.name}`,
      [`Please confirm that you want to receive <strong>${name}</strong>.`, 'The link works for 7 days. If you did not ask to subscribe, ignore this email: you will not be added and will not hear from us again.'],
      { href: confirmUrl, label: 'Confirm subscription' },
    ),
  };
}

export function alreadySubscribedEmail(newsletter: NewsletterRow, sender: Sender, to: string, preferencesUrl: string): OutgoingMail {
  const name = escapeHtml(newsletter.name);
  return {
    from: mailboxText(sender),
    to,
    ...(sender.replyTo ? { replyTo: sender.replyTo } : {}),
    subject: `You are already subscribed to ${newsletter.name}`,
    headers: systemHeaders,
    text: [
      `Someone (probably you) asked to subscribe this address to ${newsletter.name}, and it already is.`,
      '',
      `Manage your subscription: ${preferencesUrl}`,
      '',
      'Nothing else has changed. If this was not you, you can ignore this email.',
    ].join('\n'),
    html: shell(
      `You are already subscribed to ${newsletter.name}`,
      [`Someone (probably you) asked to subscribe this address to <strong>${name}</strong>, and it already is.`, 'Nothing else has changed. If this was not you, you can ignore this email.'],
      { href: preferencesUrl, label: 'Manage your subscription' },
    ),
  };
}
