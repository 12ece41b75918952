import type { Kysely, Transaction } from 'kysely';
import type { DevOutboxTable } from './tables/dev-outbox.js';
import type { FeedbackReportsTable } from './tables/feedback.js';
import type { ErrorReportsTable } from './tables/error-reports.js';
import type { MailOutboxTable } from './tables/mail-outbox.js';
import type { PasswordResetsTable } from './tables/password-resets.js';
import type { SessionsTable } from './tables/sessions.js';
import type { SettingsTable } from './tables/settings.js';
import type { SignupAttemptsTable, UsedChallengesTable } from './tables/signup-protection.js';
import type { UsersTable } from './tables/users.js';
import type { ImportProblemsTable, ImportsTable } from './tables/imports.js';
import type { JobRunsTable } from './tables/jobs.js';
import type { LinkChecksTable } from './tables/link-checks.js';
import type { NewsletterSlugAliasesTable, NewslettersTable } from './tables/newsletters.js';
import type { DeliveriesTable, LeasesTable, PostsTable } from './tables/posts.js';
import type {
  ConfirmationTokensTable,
  EventsTable,
  SubscriberTagsTable,
  SubscribersTable,
  SubscriptionsTable,
  SuppressionsTable,
  TagsTable,
} from './tables/subscribers.js';
import type {
  LinkStatsTable,
  NewsletterDayStatsTable,
  PostHourStatsTable,
  PostStatsTable,
  StatsWatermarksTable,
  TrackedLinksTable,
  TrackingHitsTable,
} from './tables/tracking.js';
import type { WebhookAttemptsTable, WebhookDeliveriesTable, WebhookEndpointsTable } from './tables/webhooks.js';
import type { ApiIdempotencyTable, ApiKeysTable } from './tables/api.js';
import type { PaidPlansTable, PaidSubscriptionsTable, StripeEventsTable } from './tables/billing.js';
import type { MediaFilesTable, MediaTable } from './tables/media.js';
import type { WelcomeMailsTable, WelcomeSentTable } from './tables/welcome.js';

/** The whole schema as Kysely sees it; one table type per file under tables/. */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  password_resets: PasswordResetsTable;
  settings: SettingsTable;
  dev_outbox: DevOutboxTable;
  mail_outbox: MailOutboxTable;
  newsletters: NewslettersTable;
  newsletter_slug_aliases: NewsletterSlugAliasesTable;
  subscribers: SubscribersTable;
  subscriptions: SubscriptionsTable;
  confirmation_tokens: ConfirmationTokensTable;
  tags: TagsTable;
  subscriber_tags: SubscriberTagsTable;
  suppressions: SuppressionsTable;
  events: EventsTable;
  imports: ImportsTable;
  import_problems: ImportProblemsTable;
  posts: PostsTable;
  deliveries: DeliveriesTable;
  leases: LeasesTable;
  job_runs: JobRunsTable;
  link_checks: LinkChecksTable;
  feedback_reports: FeedbackReportsTable;
  error_reports: ErrorReportsTable;
  tracked_links: TrackedLinksTable;
  tracking_hits: TrackingHitsTable;
  post_hour_stats: PostHourStatsTable;
  link_stats: LinkStatsTable;
  post_stats: PostStatsTable;
  newsletter_day_stats: NewsletterDayStatsTable;
  stats_watermarks: StatsWatermarksTable;
  signup_attempts: SignupAttemptsTable;
  used_challenges: UsedChallengesTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  api_keys: ApiKeysTable;
  api_idempotency: ApiIdempotencyTable;
  paid_plans: PaidPlansTable;
  paid_subscriptions: PaidSubscriptionsTable;
  stripe_events: StripeEventsTable;
  media: MediaTable;
  media_files: MediaFilesTable;
  welcome_mails: WelcomeMailsTable;
  welcome_sent: WelcomeSentTable;
}

export type Db = Kysely<Database>;
/** Repositories accept either the root handle or a transaction. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;
export type Dialect = 'sqlite' | 'postgres';
