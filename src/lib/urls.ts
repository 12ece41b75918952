/**
 * Public URLs that go into emails and embeds. They are part of the product's contract (see DESIGN.md,
 * "Public URLs"): change them and every email already sent breaks.
 */
export const publicUrls = (baseUrl: string) => ({
  home: (slug: string) => `${baseUrl}/n/${encodeURIComponent(slug)}`,
  subscribe: (slug: string) => `${baseUrl}/n/${encodeURIComponent(slug)}/subscribe`,
  archivePost: (slug: string, postSlug: string) => `${baseUrl}/n/${encodeURIComponent(slug)}/archive/${encodeURIComponent(postSlug)}`,
  feed: (slug: string) => `${baseUrl}/n/${encodeURIComponent(slug)}/feed.xml`,
  confirm: (token: string) => `${baseUrl}/confirm/${token}`,
  unsubscribe: (subscriberToken: string) => `${baseUrl}/unsubscribe/${subscriberToken}`,
  preferences: (subscriberToken: string) => `${baseUrl}/preferences/${subscriberToken}`,
});
