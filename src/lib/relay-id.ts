/**
 * The relay's own id for a message, read from its answer to the DATA command, so a later bounce or
 * complaint that only names that id (SES's `mail.messageId`, Postmark's `MessageID`, SendGrid's
 * `sg_message_id`) finds its delivery. Relays word the answer differently:
 *   SES        250 Ok 0100018c2a1b2c3d-...-000000
 *   Postfix    250 2.0.0 Ok: queued as 4T1x2Y3z4Q
 *   SendGrid   250 Ok: queued as Ki2vVhn7SDmFyVb5WeD3jQ
 *   Brevo      250 2.0.0 OK: queued as <202612070101.12345678@smtp-relay.mailin.fr>
 * An answer without an id-like token (Mailgun's "250 Great success") gives null: those relays report our
 * Message-ID instead.
 */
export function relayIdOf(response: string | null | undefined): string | null {
  if (!response) return null;
  const text = response.slice(0, 500);
  const queued = /queued as\s+<?([^\s<>]+)>?/i.exec(text);
  if (queued) return clean(queued[1]!);
  const tokens = text.replace(/^\d{3}[ -](\d\.\d{1,3}\.\d{1,3}\s+)?/, '').split(/\s+/);
  for (let i = tokens.length - 1; i >= 0; i--) {
    const token = clean(tokens[i]!.replace(/^id=/i, ''));
    // An id has letters and digits and some length; words of the answer ("success", "accepted") do not.
    if (token && token.length >= 8 && /\d/.test(token) && /[a-z]/i.test(token)) return token;
  }
  return null;
}

function clean(token: string): string | null {
  const t = token.replace(/^[<([]+|[>)\].,;]+$/g, '');
  return t.length > 0 && t.length <= 200 ? t : null;
}
