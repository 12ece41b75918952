import { connect as netConnect, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/**
 * Getting an SMTP session's connection: the options, the error type every failure is shaped as
 * (smtp-session.ts), opening the TCP or TLS connection, and the STARTTLS upgrade.
 */

export interface SessionOptions {
  host: string;
  port: number;
  /** Implicit TLS (smtps); otherwise STARTTLS is used whenever the relay offers it. */
  secure: boolean;
  user?: string;
  password?: string;
  /** Name announced with EHLO; by default this host's name, or its address literal when that is not a domain. */
  clientName?: string;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  /** Longest silence from the relay once the session is up. */
  socketTimeoutMs: number;
  tls?: { rejectUnauthorized?: boolean };
}

export class SmtpError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly reply?: Reply,
    readonly command?: string,
    public dataSent = false,
  ) {
    super(message);
    this.name = 'SmtpError';
  }
  get responseCode(): number | undefined {
    return this.reply?.code;
  }
  get response(): string | undefined {
    return this.reply?.text;
  }
}

export interface Reply {
  code: number;
  /** The whole reply, lines joined with a space: "550 5.1.1 <a@b.example>: no such user". */
  text: string;
  /** Its lines, when there were several (EHLO). */
  lines?: string[];
}

function tlsOptions(o: SessionOptions) {
  return { host: o.host, ...(isIP(o.host) ? {} : { servername: o.host }), rejectUnauthorized: o.tls?.rejectUnauthorized ?? true };
}

/** Opens the TCP (or TLS) connection within the connection timeout. */
export function dial(o: SessionOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = o.secure ? tlsConnect({ port: o.port, ...tlsOptions(o) }) : netConnect({ host: o.host, port: o.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SmtpError(`Could not connect to ${o.host}:${o.port} within ${o.connectionTimeoutMs} ms`, 'ETIMEDOUT', undefined, 'CONN'));
    }, o.connectionTimeoutMs);
    socket.once(o.secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const tls = o.secure && !/ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH/.test(err.code ?? '');
      reject(new SmtpError(`${tls ? 'TLS failed' : 'Could not connect'} to ${o.host}:${o.port}: ${err.message}`, tls ? 'ETLS' : 'ECONNECTION', undefined, 'CONN'));
    });
  });
}

export function defaultName(socket: Socket): string {
  const name = hostname();
  if (name.includes('.') && /^[A-Za-z0-9.-]+$/.test(name)) return name;
  const address = socket.localAddress ?? '127.0.0.1';
  return isIP(address) === 6 ? `[IPv6:${address}]` : `[${address}]`;
}

/** Turns the session's plain socket into TLS (after the relay said yes to STARTTLS). */
export function startTls(plain: Socket, o: SessionOptions): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: plain, ...tlsOptions(o) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new SmtpError(`TLS negotiation did not finish within ${o.greetingTimeoutMs} ms`, 'ETLS', undefined, 'STARTTLS'));
    }, o.greetingTimeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(new SmtpError(`TLS failed: ${err.message}`, 'ETLS', undefined, 'STARTTLS'));
    });
  });
}
