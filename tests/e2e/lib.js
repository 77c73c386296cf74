// Shared helpers for Herald's end-to-end tests: a real herald-server per test (free port, temporary data
// dir, killed afterwards), Debian's headless Chromium through playwright-core, console-error collection,
// and the REST calls the tests make as a "publisher".
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
export const ARTIFACTS = join(here, 'artifacts');
export const SERVER_BINARY = resolve(ROOT, process.env.HERALD_SERVER || 'build/ci/server/herald-server');
export const CHROMIUM = process.env.HERALD_CHROMIUM || '/usr/bin/chromium';

mkdirSync(ARTIFACTS, { recursive: true });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

// Every server a test file started, so a failing test cannot leave one running (and the runner hanging).
const running = new Set();
export async function stopAllServers() {
  for (const server of [...running]) await server.stop();
}
process.once('exit', () => {
  for (const server of running) server.proc?.kill('SIGKILL');
});

/** One herald-server process; start() again after kill() reuses the same port and data dir. */
export class HeraldServer {
  constructor({ port, dataDir, args = [] }) {
    this.port = port;
    this.dataDir = dataDir;
    this.args = args;
    this.proc = null;
    this.log = [];
    this.base = `http://127.0.0.1:${port}`;
  }

  static async start(args = []) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
    const server = new HeraldServer({ port, dataDir, args });
    await server.start();
    return server;
  }

  /** A server in token mode (on loopback, where it is not the default), its secret in its data dir. */
  static async startWithTokens(args = []) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
    const secretFile = join(dataDir, 'secret');
    writeFileSync(secretFile, randomBytes(48).toString('base64'), { mode: 0o600 });
    const server = new HeraldServer({ port, dataDir, args: ['--auth', 'token', '--jwt-secret-file', secretFile, ...args] });
    server.secretFile = secretFile;
    await server.start();
    return server;
  }

  /** A token minted by `herald-server token` with this server's secret. */
  mintToken({ sub, role = 'publisher', ttl = '1h' }) {
    return execFileSync(SERVER_BINARY, ['token', '--sub', sub, '--role', role, '--ttl', ttl, '--jwt-secret-file', this.secretFile],
      { encoding: 'utf8' }).trim();
  }

  async start() {
    running.add(this);
    const proc = spawn(SERVER_BINARY,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--data-dir', this.dataDir, '--demo-interval', '0', ...this.args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (chunk) => {
      this.log.push(chunk.toString());
      if (this.log.length > 2000) this.log.splice(0, 1000);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    proc.exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    const deadline = Date.now() + 15000;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`herald-server exited at start:\n${this.log.join('')}`);
      }
      try {
        const r = await fetch(`${this.base}/healthz`);
        if (r.ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`herald-server did not come up:\n${this.log.join('')}`);
      await sleep(50);
    }
  }

  async kill(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timeout = sleep(10000).then(() => 'timeout');
    if ((await Promise.race([proc.exited, timeout])) === 'timeout') {
      proc.kill('SIGKILL');
      await proc.exited;
    }
  }

  async stop() {
    await this.kill('SIGTERM');
    running.delete(this);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  url(path) {
    return `${this.base}${path}`;
  }

  async json(method, path, body, { token } = {}) {
    const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(this.url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, json };
  }

  /** POST /api/publish; resolves to the new id, throws unless 202. */
  async publish(message, { token } = {}) {
    const { status, json } = await this.json('POST', '/api/publish', message, { token });
    if (status !== 202) throw new Error(`publish answered ${status}: ${JSON.stringify(json)}`);
    return json.id;
  }
}

export async function launchBrowser() {
  // launch() gives every run a fresh temporary profile (user-data-dir), removed on close.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}

/**
 * One browser for a test file, launched before its tests; after them it is closed and every server the file
 * started is stopped. Call at the top level of the file; the browser is used as the returned object.
 */
export function useBrowser() {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await stopAllServers();
  });
  return new Proxy({}, {
    get(_, key) {
      const value = browser[key];
      return typeof value === 'function' ? value.bind(browser) : value;
    },
  });
}

/**
 * Collects console errors and page errors. expectOutage() marks a window in which the server is down on
 * purpose: Chromium itself then logs each refused connection ("net::ERR_CONNECTION_REFUSED", "WebSocket
 * connection to … failed"), which is the browser reporting the outage, not the page misbehaving;
 * expectHttpError() likewise for a request a test makes fail on purpose. Nothing else is ever excused, and
 * NotAllowedError (the autoplay rule) never is.
 */
export function watchConsole(page, name) {
  const errors = [];
  const excused = [];
  const expected = [];
  let outage = false;
  const networkNoise = /net::ERR_CONNECTION_(REFUSED|RESET|CLOSED)|net::ERR_EMPTY_RESPONSE|net::ERR_INCOMPLETE_CHUNKED_ENCODING|WebSocket connection to '[^']+' failed/;
  page.on('console', (msg) => {
    const text = msg.text();
    if (/NotAllowedError/.test(text)) {
      errors.push(`[${name}] console.${msg.type()}: ${text}`);
      return;
    }
    if (msg.type() !== 'error') return;
    if ((outage && networkNoise.test(text)) || expected.some((re) => re.test(text))) excused.push(text);
    else errors.push(`[${name}] console.error: ${text} (${msg.location()?.url || ''})`);
  });
  page.on('pageerror', (err) => errors.push(`[${name}] pageerror: ${err.stack || err.message}`));
  return {
    errors,
    excused,
    expectOutage(on) {
      outage = on;
    },
    /** Excuses what matches `re` from now on (a test of refusals: the browser logs each refused request). */
    allow(re) {
      expected.push(re);
    },
    /** A request the test makes fail on purpose: Chromium logs "Failed to load resource: … status of 422". */
    async expectHttpError(status, body) {
      const re = new RegExp(`Failed to load resource: the server responded with a status of ${status}\\b`);
      expected.push(re);
      try {
        await body();
        await sleep(300); // the console event may trail the page's own reaction
      } finally {
        expected.splice(expected.indexOf(re), 1);
      }
    },
  };
}

export async function screenshot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** The ids listed on a page's notification list, newest first, as numbers. */
export async function listedIds(page) {
  return page.$$eval('#notification-list li.notification', (els) => els.map((e) => Number(e.dataset.id)));
}

export async function openApp(browser, server, query, { viewport = { width: 1440, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const watch = watchConsole(page, query);
  await page.goto(server.url(`/${query}`));
  await page.waitForFunction(() => window.herald && window.herald.state === 'live');
  return { context, page, watch };
}

/**
 * The fixture of the page tests: one browser for the file (useBrowser) and withServer(body, args), which runs
 * body(server, open) against a fresh server started with `args`; open(query, opts) is openApp in a context of
 * its own. When body succeeds, no page it opened may have logged a console error; its contexts are closed and
 * its server stopped either way. Call at the top level of the file.
 */
export function usePages() {
  const browser = useBrowser();
  async function withServer(body, args = []) {
    const server = await HeraldServer.start(args);
    const contexts = [];
    const open = async (query, opts) => {
      const o = await openApp(browser, server, query, opts);
      contexts.push(o);
      return o;
    };
    try {
      await body(server, open);
      for (const { watch } of contexts) assert.deepEqual(watch.errors, [], 'no console errors');
    } finally {
      for (const { context } of contexts) await context.close();
      await server.stop();
    }
  }
  return { browser, withServer };
}

/** The entry of message `id` in a page's notification list. */
export function notificationItem(page, id) {
  return page.locator(`#notification-list li.notification[data-id="${id}"]`);
}
