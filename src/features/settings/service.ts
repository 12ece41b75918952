import { redactUrl, type Config } from '../../config.js';
import type { Mailer } from '../../sending/mailer.js';

export type SettingsService = ReturnType<typeof createSettingsService>;

/** The settings page: the environment's settings, read-only, and a test email through the app's mailer. */
export function createSettingsService(deps: { config: Config; mailer: Mailer }) {
  const { config, mailer } = deps;
  return {
    describe: () => describeSettings(config, mailer.kind),
    sendTestEmail: (to: string) => sendTestEmail(mailer, config.mailFrom, to),
  };
}

export interface SettingRowView {
  label: string;
  value: string;
  variable: string;
}

/** The environment-driven settings as the owner sees them: read-only, with secrets masked. */
export function describeSettings(config: Config, mailerKind: Mailer['kind']): { general: SettingRowView[]; smtp: SettingRowView[] } {
  const db = config.database.kind === 'sqlite' ? `SQLite (${config.database.file})` : `Postgres (${redactUrl(config.database.url)})`;
  const general: SettingRowView[] = [
    { label: 'Public URL', value: config.baseUrl, variable: 'BASE_URL' },
    { label: 'Database', value: db, variable: 'DATABASE_URL' },
    { label: 'Data folder', value: config.dataDir, variable: 'DATA_DIR' },
    { label: 'Default sender', value: config.mailFrom, variable: 'MAIL_FROM' },
    // The bucket's keys are never shown, not even the access key id.
    { label: 'Images', value: config.mediaS3 ? `bucket ${config.mediaS3.bucket} at ${config.mediaS3.endpoint} (${config.mediaS3.region})` : `${config.dataDir}/media`, variable: 'MEDIA_S3_*' },
  ];
  const smtp: SettingRowView[] = config.smtp
    ? [
        { label: 'Relay', value: `${config.smtp.host}:${config.smtp.port}`, variable: 'SMTP_URL / SMTP_HOST' },
        { label: 'Encryption', value: config.smtp.secure ? 'TLS from the start (smtps)' : 'STARTTLS when offered', variable: 'SMTP_SECURE' },
        { label: 'User', value: config.smtp.user ?? '(none)', variable: 'SMTP_USER' },
        { label: 'Password', value: config.smtp.password ? '••••••••' : '(none)', variable: 'SMTP_PASSWORD' },
        { label: 'Connections', value: String(config.smtpPoolSize), variable: 'SMTP_POOL_SIZE' },
        { label: 'Rate limit', value: config.sendRate ? `${config.sendRate} messages/second` : 'none', variable: 'SEND_RATE' },
        { label: 'DKIM', value: config.dkim ? `${config.dkim.selector}._domainkey.${config.dkim.domain}` : 'off (the relay may sign)', variable: 'DKIM_*' },
      ]
    : [{ label: 'Relay', value: mailerKind === 'dev-outbox' ? 'none: mail goes to the dev outbox' : mailerKind, variable: 'SMTP_URL' }];
  smtp.push(...bounceRows(config));
  return { general, smtp };
}

/** Where bounces by mail are read and what envelope sender asks for them (the password is never shown). */
function bounceRows(config: Config): SettingRowView[] {
  const box = config.bounceMailbox;
  const verp = config.bounceVerp;
  return [
    {
      label: 'Bounce mailbox',
      value: box ? `${box.user} at ${box.host}:${box.port} (${box.secure ? 'TLS' : 'STARTTLS'}), ${box.mailbox} → ${box.processedFolder}, ${box.unparsedFolder}` : 'off',
      variable: 'BOUNCE_IMAP_*',
    },
    { label: 'Return path (VERP)', value: verp ? `${verp.localPart}${verp.delimiter}<token>@${verp.domain}` : 'off: the From address', variable: 'BOUNCE_VERP_ADDRESS' },
  ];
}

/** Sends a short message to the owner through the real mailer and reports the relay's exact answer. */
export async function sendTestEmail(mailer: Mailer, from: string, to: string): Promise<{ ok: boolean; message: string }> {
  try {
    const result = await mailer.send({
      from,
      to,
      subject: 'Gazette test email',
      text: 'This is a test email from your Gazette server. If you can read it, sending works.',
    });
    return { ok: true, message: result.delivered ? `Accepted by the relay: ${result.response}` : result.response };
  } catch (err) {
    const e = err as { response?: string; code?: string; message?: string };
    return { ok: false, message: `The relay refused or could not be reached: ${e.response ?? e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}` };
  }
}
