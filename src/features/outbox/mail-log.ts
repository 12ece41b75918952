import type { MailOutboxRow, MailStatus } from '../../db/tables/mail-outbox.js';
import { RETRY_DELAYS_MS } from '../../sending/mail-outbox.js';

/** How the mail log names each status and kind for the writer. */

export const MAIL_STATUSES: MailStatus[] = ['queued', 'sending', 'retry', 'sent', 'failed', 'unknown'];

const STATUS_LABELS: Record<MailStatus, string> = {
  queued: 'Queued',
  sending: 'Sending',
  retry: 'Waiting to retry',
  sent: 'Sent',
  failed: 'Failed',
  unknown: 'Unknown',
};

const KIND_LABELS: Record<string, string> = {
  confirmation: 'Subscription confirmation',
  already_subscribed: '"Already subscribed" notice',
  password_reset: 'Password reset',
};

/** A rough span for prose: "about 4 hours", "about 20 minutes". */
function roughly(ms: number): string {
  const hours = Math.round(ms / 3_600_000);
  if (hours >= 1) return `about ${hours} hour${hours === 1 ? '' : 's'}`;
  return `about ${Math.max(1, Math.round(ms / 60_000))} minutes`;
}

export const RETRY_SUMMARY = `${RETRY_DELAYS_MS.length} more times over ${roughly(RETRY_DELAYS_MS.reduce((a, b) => a + b, 0))}, at growing intervals`;

export function mailLogRow(row: MailOutboxRow, formatTime: (ms: number) => string) {
  const at = Number(row.created_at);
  let detail = '';
  if (row.status === 'retry') detail = `Next try ${formatTime(Number(row.next_attempt_at))}. ${row.last_error ?? ''}`;
  else if (row.status === 'failed' || row.status === 'unknown') detail = row.last_error ?? '';
  else if (row.status === 'sent') detail = row.response ?? '';
  return {
    id: row.id,
    kindLabel: KIND_LABELS[row.kind] ?? row.kind,
    subject: row.subject,
    to_address: row.to_address,
    queued: formatTime(at),
    queuedIso: new Date(at).toISOString(),
    statusLabel: STATUS_LABELS[row.status],
    attempts: row.attempts,
    detail: detail.trim(),
    canResend: row.status === 'failed' || row.status === 'unknown',
  };
}

export function statusCounts(counts: Record<string, number>) {
  return MAIL_STATUSES.filter((s) => (counts[s] ?? 0) > 0).map((status) => ({ status, label: STATUS_LABELS[status], count: counts[status] ?? 0 }));
}
