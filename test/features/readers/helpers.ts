import type { TestApp } from '../../helpers/app.js';

/** The confirmation link from the last captured mail (the capturing mailer keeps the text part). */
export function lastConfirmPath(t: TestApp): string {
  const text = t.mailer.last()?.text ?? '';
  const match = /http:\/\/gazette\.test(\/confirm\/[A-Za-z0-9_-]+)/.exec(text);
  if (!match) throw new Error(`no confirmation link in: ${text}`);
  return match[1]!;
}

export async function subscriptionOf(t: TestApp, email: string) {
  return t.db.db
    .selectFrom('subscriptions as sn')
    .innerJoin('subscribers as s', 's.id', 'sn.subscriber_id')
    .select(['sn.status', 'sn.source', 'sn.confirmed_at', 'sn.unsubscribed_at', 's.token', 's.name', 's.id as subscriber_id'])
    .where('s.email', '=', email)
    .executeTakeFirst();
}

/** Posts the hosted form as a browser would, after a human pause (the form's min fill time). */
export async function subscribeViaForm(t: TestApp, slug: string, fields: Record<string, string>) {
  const agent = t.agent();
  const page = await agent.get(`/n/${slug}`);
  const token = /name="t" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
  t.clock.advance(5000);
  return agent.post(`/n/${slug}/subscribe`, { t: token, website: '', ...fields });
}
