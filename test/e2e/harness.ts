import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startEnv, startNodeOptions } from '../../scripts/start-command.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { createTestDb, type TestDb } from '../helpers/db.js';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.js';

/**
 * End-to-end harness: the real built server (`node dist/server.js`, the bundle that `npm start` runs after
 * its build) on a temp data dir, a real SMTP server in this process, and Debian's Chromium driven by
 * playwright-core. Screenshots of every visited page go to test-artifacts/ (ignored by git).
 */

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts', 'e2e');
const require = createRequire(import.meta.url);
const AXE_SOURCE = require('node:fs').readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8') as string;

/** Chromium is a Debian package CI installs; locally, without it, these suites say so and skip. */
export function browserMissingReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install the chromium package`);
  return `${CHROMIUM} is not installed (apt-get install chromium)`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface RunningServer {
  baseUrl: string;
  /** The server's DATA_DIR (and working directory): its SQLite file is gazette.db in there. */
  dataDir: string;
  smtp: TestSmtpServer;
  db?: TestDb;
  stop(): Promise<void>;
  output(): string;
}

export interface GazetteOptions {
  dialect: 'sqlite' | 'postgres';
  env?: Record<string, string>;
  /** false starts Gazette as a newcomer does, with no SMTP settings: mail goes to the dev outbox. */
  relay?: boolean;
}

export async function startGazette(options: GazetteOptions): Promise<RunningServer> {
  const dist = path.join(PROJECT_ROOT, 'dist', 'server.js');
  if (!existsSync(dist)) throw new Error('dist/server.js is missing: run `npm run build` first (scripts/run-tests.mjs does)');
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gazette-e2e-'));
  const smtp = await startSmtpServer();
  const db = options.dialect === 'postgres' ? await createTestDb('postgres', { migrate: false }) : undefined;
  const baseUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [...startNodeOptions(), dist], {
    cwd: dataDir,
    env: {
      ...startEnv(),
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      BASE_URL: baseUrl,
      DATA_DIR: dataDir,
      ...(options.relay === false ? {} : { SMTP_URL: smtp.url }),
      LOG_LEVEL: 'warn',
      // Journeys reach no real DNS: one that checks domains passes EMAIL_DNS_SERVERS of its own server.
      EMAIL_DNS_CHECK: 'off',
      ...(db?.url ? { DATABASE_URL: db.url } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (out += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${out}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`server did not become healthy:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    dataDir,
    smtp,
    db,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await smtp.close();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Each launch gets a fresh, empty profile (playwright-core creates and removes a temp user-data dir). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/** A fresh context; axe is injected into pages, so page CSP is bypassed for the test's own scripts only. */
export async function newContext(browser: Browser, options: { javaScriptEnabled?: boolean } = {}): Promise<BrowserContext> {
  return browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true, javaScriptEnabled: options.javaScriptEnabled ?? true });
}

/** What a journey's `before` opens: Gazette, a browser, and the writer's context with one page. */
export interface Journey {
  server: RunningServer;
  browser: Browser;
  writer: BrowserContext;
  page: Page;
}

export async function openJourney(options: GazetteOptions): Promise<Journey> {
  const server = await startGazette(options);
  try {
    const browser = await launchBrowser();
    const writer = await newContext(browser);
    return { server, browser, writer, page: await writer.newPage() };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Closes what openJourney opened, the browser first (its pages hold connections to the server). */
export async function closeJourney(journey: { browser?: Browser | undefined; server?: RunningServer | undefined }): Promise<void> {
  await journey.browser?.close();
  await journey.server?.stop();
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * Screenshots the current page at desktop and phone sizes and runs axe-core on it. Returns the
 * serious or critical violations (callers assert there are none).
 */
export async function inspectPage(page: Page, name: string, options: { axe?: boolean } = {}): Promise<AxeViolation[]> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const safe = name.replace(/[^a-z0-9-]+/gi, '-');
  const original = page.viewportSize() ?? { width: 1280, height: 800 };
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: path.join(ARTIFACTS, `${safe}-1280x800.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(ARTIFACTS, `${safe}-390x844.png`), fullPage: true });
  await page.setViewportSize(original);
  // With JavaScript disabled in a context axe cannot run in its pages; the same pages are audited with JS on.
  if (options.axe === false) return [];
  // These callbacks run in the page, where `globalThis` is the window (this project compiles without DOM types).
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = (await page.evaluate(async () => {
    const page = globalThis as unknown as { axe: { run: (ctx: unknown, o: object) => Promise<{ violations: unknown[] }> }; document: unknown };
    const result = await page.axe.run(page.document, { resultTypes: ['violations'] });
    return result.violations;
  })) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Keeps the page's HTML and a screenshot when a step fails, for a person to look at. */
export async function keepFailure(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const safe = `FAILED-${name.replace(/[^a-z0-9-]+/gi, '-')}`;
  await page.screenshot({ path: path.join(ARTIFACTS, `${safe}.png`), fullPage: true }).catch(() => {});
  writeFileSync(path.join(ARTIFACTS, `${safe}.html`), await page.content().catch(() => ''));
}

/**
 * The two helpers every journey uses, for artifacts named `<prefix>-<name>`: `check` screenshots a page
 * and records its serious/critical axe violations in `problems` (axe only runs with JavaScript on);
 * `step` keeps the page's screenshot and HTML when the step fails.
 */
export function journeyHelpers(prefix: string, problems: string[]) {
  return {
    async check(p: Page, name: string, options: { javaScriptEnabled?: boolean } = {}): Promise<void> {
      const violations = await inspectPage(p, `${prefix}-${name}`, { axe: options.javaScriptEnabled !== false });
      for (const v of violations) problems.push(`${name}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    },
    async step(name: string, p: Page, fn: () => Promise<void>): Promise<void> {
      try {
        await fn();
      } catch (err) {
        await keepFailure(p, `${prefix}-${name}`);
        throw err;
      }
    },
  };
}

/** A page on another origin, for the embeddable form. */
export async function serveOtherOrigin(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  // "localhost" rather than 127.0.0.1: a different origin from the Gazette server.
  return { url: `http://localhost:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

/** First-run setup through the real form, as a newcomer does it; the page ends on the dashboard. */
export async function createOwner(page: Page, baseUrl: string, owner: { name: string; email: string; password: string }): Promise<void> {
  await page.goto(`${baseUrl}/setup`);
  await page.getByLabel('Your name').fill(owner.name);
  await page.getByLabel('Email').fill(owner.email);
  await page.getByLabel('Password').fill(owner.password);
  await Promise.all([page.waitForURL('**/admin'), page.getByRole('button', { name: 'Create account' }).click()]);
}

/** A reader added by the writer as already confirmed, through the admin's form. */
export async function addConfirmedSubscriber(page: Page, baseUrl: string, email: string): Promise<void> {
  await page.goto(`${baseUrl}/admin/subscribers/new`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Already confirmed').check();
  await Promise.all([page.waitForURL(/\/admin\/subscribers\/\d+$/), page.getByRole('button', { name: 'Add subscriber' }).click()]);
}
