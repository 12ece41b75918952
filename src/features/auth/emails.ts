import type { OutgoingMail } from '../../sending/mailer.js';

/** The password-reset mail. It names no account detail beyond the address it goes to. */
export function passwordResetEmail(from: string, to: string, siteUrl: string, resetUrl: string, validMinutes: number): OutgoingMail {
  return {
    from,
    to,
    subject: 'Reset your Gazette password',
    headers: { 'Auto-Submitted': 'auto-generated' },
    text: [
      `Someone (probably you) asked to reset the password of the Gazette account for this address at ${siteUrl}.`,
      '',
      `Choose a new password: ${resetUrl}`,
      '',
      `The link works once, for ${validMinutes} minutes. Using it signs out every session of the account.`,
      'If you did not ask for it, ignore this email: your password stays as it is.',
    ].join('\n'),
  };
}
