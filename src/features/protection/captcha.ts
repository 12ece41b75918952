import type { CaptchaConfig } from '../../config.js';

/** The form field each provider's widget fills with its token. */
export const CAPTCHA_FIELD: Record<CaptchaConfig['provider'], string> = { turnstile: 'cf-turnstile-response', hcaptcha: 'h-captcha-response' };
export const CAPTCHA_SCRIPT: Record<CaptchaConfig['provider'], string> = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
  hcaptcha: 'https://js.hcaptcha.com/1/api.js',
};

export type CaptchaVerdict = 'ok' | 'missing' | 'invalid' | 'unavailable';

/**
 * Server-side check of a Turnstile or hCaptcha token against the provider's siteverify endpoint (both
 * take the same form fields). `unavailable` means the provider did not answer properly: the caller
 * decides whether that lets a sign-up through.
 */
export async function verifyCaptcha(config: CaptchaConfig, token: string | undefined, remoteIp: string): Promise<CaptchaVerdict> {
  if (!token) return 'missing';
  try {
    const res = await fetch(config.verifyUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ secret: config.secret, response: token, remoteip: remoteIp, sitekey: config.siteKey }).toString(),
      signal: AbortSignal.timeout(5000),
      redirect: 'error',
    });
    if (!res.ok) return 'unavailable';
    const body = (await res.json()) as { success?: unknown };
    return body.success === true ? 'ok' : 'invalid';
  } catch {
    return 'unavailable';
  }
}
