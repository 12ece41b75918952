import { CSP } from '../../plugins/security-headers.js';
import type { ChallengeWidget } from './service.js';

/**
 * The page policy while a challenge is on the form: the site's own policy, plus what the widget needs.
 * ALTCHA solves in Web Workers started from blob: URLs and may compile WebAssembly; a captcha provider's
 * script, frame and requests go to its own origin.
 */
export function challengePagePolicy(widget: ChallengeWidget): string {
  // hCaptcha loads its frames and styles from subdomains of hcaptcha.com (its CSP guide lists both).
  const provider = widget.kind === 'altcha' ? '' : widget.kind === 'hcaptcha' ? ' https://hcaptcha.com https://*.hcaptcha.com' : ` ${new URL(widget.scriptUrl).origin}`;
  const policy = CSP.replace("script-src 'self'", `script-src 'self' 'wasm-unsafe-eval'${provider}`);
  return `${policy}; worker-src 'self' blob:; frame-src${provider || " 'none'"}; connect-src 'self'${provider}`;
}
