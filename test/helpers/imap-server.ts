import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';

/**
 * A real IMAP server for tests: Debian's Dovecot (`apt-get install dovecot-imapd`; `.ci/run` installs
 * it), started as a private instance with its own configuration in a temp directory, listening on
 * 127.0.0.1 on a free port, plaintext LOGIN against a passwd-file user, mail in a temp Maildir.
 * Nothing of the machine's own Dovecot (if any) is used or touched.
 *
 *   const imap = await startImapServer();
 *   await imap.append('INBOX', rawMail);
 *   // …point the code under test at imap.host / imap.port / imap.user / imap.password…
 *   assert.deepEqual((await imap.messages('INBOX')).length, 0);
 *   await imap.stop();
 *
 * Running it without root and with root: the master runs in the foreground (`dovecot -F -c <conf>`).
 * Dovecot refuses to run its login processes as root, so as root the login and internal processes run
 * as the `dovenull` and `dovecot` users the Debian package creates, and the mail user is `dovecot`
 * (the Maildir is handed to it). As an ordinary user every process runs as that user.
 */

export interface ImapTestServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Appends a message (LF line endings become CRLF, as IMAP wants). */
  append(folder: string, raw: Buffer | string, flags?: string[]): Promise<void>;
  /** The messages of a folder, in UID order; [] when the folder does not exist. */
  messages(folder: string): Promise<Array<{ uid: number; seen: boolean; messageId: string | undefined; subject: string | undefined }>>;
  /** Every folder path on the server. */
  folders(): Promise<string[]>;
  /** Runs `f` with a logged-in client of the test's own. */
  withClient<T>(f: (client: ImapFlow) => Promise<T>): Promise<T>;
  /** Where Dovecot logs (shown when a test fails to start it). */
  logFile: string;
  stop(): Promise<void>;
}

const DOVECOT = '/usr/sbin/dovecot';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function groupName(gid: number): string {
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(gid));
  return line?.split(':')[0] ?? String(gid);
}

/** Resolves once the server greets a probe connection as ready (its auth process is up), or rejects. */
function greeting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.on('data', (chunk) => {
      text += chunk.toString();
      if (/\bready\b/i.test(text)) done(true);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

function config(dir: string, port: number, users: { login: string; internal: string; internalGroup: string }): string {
  return `protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = ${users.internal}
default_internal_group = ${users.internalGroup}
default_login_user = ${users.login}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`;
}

export async function startImapServer(): Promise<ImapTestServer> {
  if (!existsSync(DOVECOT)) throw new Error(`${DOVECOT} is missing: install Debian's dovecot-imapd (apt-get install dovecot-imapd; .ci/run does)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gz-imap-'));
  const port = await freePort();
  const user = 'bounces';
  const password = 'imap-test-password';
  const root = process.getuid?.() === 0;
  const me = os.userInfo();
  const mailOwner = root ? systemUser('dovecot') : { uid: me.uid, gid: me.gid };
  if (!mailOwner || (root && !systemUser('dovenull'))) throw new Error('the dovecot and dovenull users are missing: reinstall dovecot-core');
  const mailHome = path.join(dir, 'mail');
  writeFileSync(path.join(dir, 'passwd'), `${user}:{PLAIN}${password}:${mailOwner.uid}:${mailOwner.gid}::${mailHome}\n`);
  writeFileSync(
    path.join(dir, 'dovecot.conf'),
    config(dir, port, root ? { login: 'dovenull', internal: 'dovecot', internalGroup: 'dovecot' } : { login: me.username, internal: me.username, internalGroup: groupName(me.gid) }),
  );
  mkdirSync(mailHome);
  if (root) {
    // The mail user (dovecot) must reach its home under the root-owned temp dir.
    chmodSync(dir, 0o755);
    chownSync(mailHome, mailOwner.uid, mailOwner.gid);
  }
  const logFile = path.join(dir, 'dovecot.log');
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', path.join(dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c) => (stderr += c.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const deadline = Date.now() + 20_000;
  while (!(await greeting(port))) {
    if (exited || Date.now() > deadline) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`Dovecot did not start on 127.0.0.1:${port}:\n${stderr}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  async function withClient<T>(f: (client: ImapFlow) => Promise<T>): Promise<T> {
    const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: password }, logger: false, disableAutoIdle: true });
    client.on('error', () => {});
    await client.connect();
    try {
      return await f(client);
    } finally {
      await client.logout().catch(() => client.close());
    }
  }

  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    logFile,
    withClient,
    async append(folder, raw, flags = []) {
      const text = (typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw).toString('latin1').replace(/\r?\n/g, '\r\n');
      await withClient(async (client) => {
        if (folder !== 'INBOX') await client.mailboxCreate(folder);
        await client.append(folder, Buffer.from(text, 'latin1'), flags);
      });
    },
    async messages(folder) {
      return withClient(async (client) => {
        const all = await client.list();
        if (!all.some((m) => m.path === folder)) return [];
        const lock = await client.getMailboxLock(folder);
        try {
          const status = await client.status(folder, { messages: true });
          if (!status || !status.messages) return [];
          const rows = await client.fetchAll('1:*', { uid: true, flags: true, envelope: true });
          return rows
            .map((m) => ({ uid: m.uid, seen: m.flags?.has('\\Seen') ?? false, messageId: m.envelope?.messageId?.replace(/^<|>$/g, ''), subject: m.envelope?.subject }))
            .sort((a, b) => a.uid - b.uid);
        } finally {
          lock.release();
        }
      });
    },
    async folders() {
      return withClient(async (client) => (await client.list()).map((m) => m.path).sort());
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      await exit;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
