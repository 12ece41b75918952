import type { ChallengeWidget } from './service.js';

/**
 * The page policy while a challenge is on the form. ALTCHA solves in Web Workers started from blob: URLs
 * and may compile WebAssembly; a captcha provider's script and frame come from its own origin.
 */
export function challengePagePolicy(widget: ChallengeWidget): string {
  const provider = widget.kind === 'altcha' ? '' : ` ${new URL(widget.scriptUrl).origin}`;
  return [
    "default-src 'self'",
    `script-src 'self' 'wasm-unsafe-eval'${provider}`,
    "worker-src 'self' blob:",
    `frame-src${provider || " 'none'"}`,
    `connect-src 'self'${provider}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' https: data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; ');
}
