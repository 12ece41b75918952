import { backupCommand, restoreCommand } from './backup/commands.js';
import { BackupError } from './backup/sqlite-backup.js';
import { openDatabase, readEnvironment } from './boot.js';
import { ConfigError, loadConfig } from './config.js';
import { connectDatabase } from './db/connect.js';
import { migrateDownAll, MigrationError } from './db/migrate.js';
import { findUserByEmail, updatePasswordHash } from './features/auth/repository.js';
import { invalidateAllSessions } from './features/auth/sessions.js';
import { normalizeEmail } from './lib/email.js';
import { hashPassword, passwordProblem } from './lib/passwords.js';

/**
 * Operator commands, reading the same environment and config as the server:
 *   gazette migrate                      run pending migrations (the server also does this at start-up)
 *   gazette migrate:down-all             roll every migration back (destroys all data; asks for --yes)
 *   gazette reset-password EMAIL         set a new password read from stdin; signs out every session
 *   gazette backup [--to DIR]            a consistent copy of the database, taken while the server runs
 *   gazette restore FILE                 replace the database by a backup (the server must be stopped)
 */
const HELP = `Usage: npm run cli -- <command>
  migrate                         run pending migrations
  migrate:down-all --yes          roll back every migration (deletes all data)
  reset-password <email>          read a new password from stdin and sign out every session
  backup [--to <dir>]             back the database up now (default: BACKUP_DIR)
  restore <file>                  replace the database by a backup (stop Gazette first)`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  const config = loadConfig(readEnvironment());
  const say = (msg: string) => process.stdout.write(`${msg}\n`);
  switch (command) {
    case 'migrate': {
      const db = await openDatabase(config, say);
      await db.close();
      say('database is up to date');
      return 0;
    }
    case 'migrate:down-all': {
      if (arg !== '--yes') {
        say('This deletes every table and all data. Run again with --yes to confirm.');
        return 1;
      }
      const db = await connectDatabase(config.database, { connectTimeoutMs: config.databaseConnectTimeoutMs });
      await migrateDownAll(db.db, say);
      await db.close();
      return 0;
    }
    case 'reset-password': {
      if (!arg) {
        say(HELP);
        return 1;
      }
      const password = await readStdin();
      const email = normalizeEmail(arg);
      const problem = passwordProblem(password);
      if (problem) {
        say(`Password refused: ${problem}`);
        return 1;
      }
      const db = await openDatabase(config, () => {});
      try {
        const user = await findUserByEmail(db.db, email);
        if (!user) {
          say(`No account with the email ${email}.`);
          return 1;
        }
        const hash = await hashPassword(password);
        await db.db.transaction().execute(async (trx) => {
          await updatePasswordHash(trx, user.id, hash, Date.now());
          await invalidateAllSessions(trx, user.id);
        });
        say(`Password changed for ${email}; every session was signed out.`);
        return 0;
      } finally {
        await db.close();
      }
    }
    case 'backup': {
      if (arg !== undefined && (arg !== '--to' || !argv[2])) {
        say(HELP);
        return 1;
      }
      return backupCommand(config, { ...(argv[2] ? { dir: argv[2] } : {}), now: Date.now() }, say);
    }
    case 'restore': {
      if (!arg) {
        say(HELP);
        return 1;
      }
      return restoreCommand(config, arg, Date.now(), say);
    }
    default:
      say(HELP);
      return command ? 1 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof BackupError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(err instanceof ConfigError || err instanceof MigrationError ? `${err.message}\n` : `${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
