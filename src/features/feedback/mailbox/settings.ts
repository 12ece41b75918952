/** The bounce mailbox's settings (README, "Bounce mailbox"), read from the environment by src/config.ts. */
export interface BounceMailboxSettings {
  host: string;
  port: number;
  /** Implicit TLS (imaps, usually 993); otherwise STARTTLS, required unless `allowPlaintext`. */
  secure: boolean;
  /** Lets an imap:// connection stay in cleartext when the server offers no STARTTLS. */
  allowPlaintext: boolean;
  user: string;
  password: string;
  /** The folder bounces arrive in (INBOX). */
  mailbox: string;
  /** Folder paths with `/` between levels (`Gazette/Processed`); created when missing. */
  processedFolder: string;
  unparsedFolder: string;
}

export interface BounceMailboxEnv {
  BOUNCE_IMAP_URL?: string | undefined;
  BOUNCE_IMAP_PASSWORD?: string | undefined;
  BOUNCE_IMAP_MAILBOX?: string | undefined;
  BOUNCE_IMAP_PROCESSED_FOLDER?: string | undefined;
  BOUNCE_IMAP_UNPARSED_FOLDER?: string | undefined;
  BOUNCE_IMAP_ALLOW_PLAINTEXT?: boolean | undefined;
}

const FOLDER = /^[^\u0000-\u001f\u007f*%"\\]{1,200}$/;

function folder(value: string | undefined, fallback: string, variable: string, add: (variable: string, message: string) => void): string {
  const name = value ?? fallback;
  if (!FOLDER.test(name) || name.split('/').some((level) => level.trim() === '')) {
    add(variable, `must be a folder name like ${fallback} (levels separated by /, no * % " or \\)`);
  }
  return name;
}

/** Undefined when BOUNCE_IMAP_URL is unset: the mailbox job is then not registered at all. */
export function parseBounceMailboxConfig(e: BounceMailboxEnv, add: (variable: string, message: string) => void): BounceMailboxSettings | undefined {
  if (e.BOUNCE_IMAP_URL === undefined) {
    for (const name of ['BOUNCE_IMAP_PASSWORD', 'BOUNCE_IMAP_MAILBOX', 'BOUNCE_IMAP_PROCESSED_FOLDER', 'BOUNCE_IMAP_UNPARSED_FOLDER'] as const) {
      if (e[name] !== undefined) add(name, 'has no effect without BOUNCE_IMAP_URL (imaps://user:password@imap.example.com)');
    }
    return undefined;
  }
  const hint = 'must be a URL like imaps://user:password@imap.example.com (or imap://…:143 for STARTTLS)';
  let url: URL;
  try {
    url = new URL(e.BOUNCE_IMAP_URL);
  } catch {
    add('BOUNCE_IMAP_URL', hint);
    return undefined;
  }
  if (url.protocol !== 'imap:' && url.protocol !== 'imaps:') {
    add('BOUNCE_IMAP_URL', `must start with imap:// or imaps:// (got "${url.protocol}//…")`);
    return undefined;
  }
  let user = '';
  let password = '';
  try {
    user = decodeURIComponent(url.username);
    password = e.BOUNCE_IMAP_PASSWORD ?? decodeURIComponent(url.password);
  } catch {
    add('BOUNCE_IMAP_URL', 'has a user name or password that is not valid percent-encoding; write "%" as %25, or set BOUNCE_IMAP_PASSWORD');
    return undefined;
  }
  if (!url.hostname || !user || !password) {
    add('BOUNCE_IMAP_URL', `needs a host, a user name and a password (the password may come from BOUNCE_IMAP_PASSWORD); ${hint}`);
    return undefined;
  }
  const secure = url.protocol === 'imaps:';
  const mailbox = folder(e.BOUNCE_IMAP_MAILBOX, 'INBOX', 'BOUNCE_IMAP_MAILBOX', add);
  const processedFolder = folder(e.BOUNCE_IMAP_PROCESSED_FOLDER, 'Gazette/Processed', 'BOUNCE_IMAP_PROCESSED_FOLDER', add);
  const unparsedFolder = folder(e.BOUNCE_IMAP_UNPARSED_FOLDER, 'Gazette/Unparsed', 'BOUNCE_IMAP_UNPARSED_FOLDER', add);
  if (new Set([mailbox, processedFolder, unparsedFolder]).size < 3) {
    add('BOUNCE_IMAP_PROCESSED_FOLDER', 'BOUNCE_IMAP_MAILBOX, BOUNCE_IMAP_PROCESSED_FOLDER and BOUNCE_IMAP_UNPARSED_FOLDER must be three different folders');
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 993 : 143,
    secure,
    allowPlaintext: e.BOUNCE_IMAP_ALLOW_PLAINTEXT ?? false,
    user,
    password,
    mailbox,
    processedFolder,
    unparsedFolder,
  };
}

/** VERP (README, "Bounce mailbox"): the envelope sender of bulk mail becomes `<localPart>+<token>@<domain>`. */
export interface BounceVerpSettings {
  localPart: string;
  domain: string;
  delimiter: '+' | '-';
}

export interface BounceVerpEnv {
  BOUNCE_VERP_ADDRESS?: string | undefined;
  BOUNCE_VERP_DELIMITER?: string | undefined;
}

export function parseBounceVerpConfig(e: BounceVerpEnv, add: (variable: string, message: string) => void): BounceVerpSettings | undefined {
  const delimiter = e.BOUNCE_VERP_DELIMITER ?? '+';
  if (delimiter !== '+' && delimiter !== '-') add('BOUNCE_VERP_DELIMITER', `must be + or - (got "${delimiter}")`);
  if (e.BOUNCE_VERP_ADDRESS === undefined) {
    if (e.BOUNCE_VERP_DELIMITER !== undefined) add('BOUNCE_VERP_DELIMITER', 'has no effect without BOUNCE_VERP_ADDRESS (e.g. bounces@bounce.example.com)');
    return undefined;
  }
  const m = /^([A-Za-z0-9._]{1,40})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)$/.exec(e.BOUNCE_VERP_ADDRESS);
  if (!m || m[1]!.startsWith('.') || m[1]!.endsWith('.')) {
    add('BOUNCE_VERP_ADDRESS', `must be a plain address like bounces@bounce.example.com, its local part letters, digits, . and _ only (got "${e.BOUNCE_VERP_ADDRESS}")`);
    return undefined;
  }
  return { localPart: m[1]!, domain: m[2]!.toLowerCase(), delimiter: delimiter === '-' ? '-' : '+' };
}
