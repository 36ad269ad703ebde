// Browser end-to-end tests of the csms web panels: Playwright (playwright-core) drives Debian's
// Chromium against a `csms demo` started here on free loopback ports with a fresh SQLite file.
//
//   CSMS_BIN=target/debug/csms node --test --test-reporter=tap tests/browser/e2e.test.mjs
//
// or scripts/browser-test.sh, which installs Chromium and the npm package first when missing.
// Screenshots (and the server's log) go to <repo>/test-artifacts/browser/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const BIN = path.resolve(process.env.CSMS_BIN || path.join(HERE, '..', '..', 'target', 'debug', 'csms'));
const ARTIFACTS = path.join(REPO, 'test-artifacts', 'browser');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const VIEWPORT = { width: 1280, height: 800 };

const IN_USE = 'This charger connector is currently in use by another customer. Please try a different connector or wait for the current session to end.';
const STARTED = 'Charging started successfully';
const PASSWORD = 'password';

let server = null; // the csms child process
let serverLog = null;
let baseUrl = '';
let tmpDir = '';
let browser = null;
const contexts = [];
const pageErrors = []; // uncaught exceptions in any page: each test asserts none of its own

// ------------------------------------------------------------------ helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. */
async function until(what, fn, timeoutMs = 15000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
    await sleep(everyMs);
  }
}

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    try { server.kill('SIGKILL'); } catch (_) { /* already gone */ }
  }
}
// Last resort: never leave the server behind, even if the runner dies before `after` runs.
process.on('exit', killServer);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killServer(); process.exit(130); });
}

async function newPage(name) {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, locale: 'en-US' });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  // The server's Content-Security-Policy allows no inline script or style: a violation shows up as
  // a console error ("Refused to ... because it violates the following Content Security Policy
  // directive") and fails the test like an uncaught exception.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(`${name}: ${m.text()}`);
  });
  return page;
}

/** Saves a screenshot to test-artifacts/browser/; `fullPage` also captures what is below the fold. */
async function shot(page, file, { fullPage = false } = {}) {
  await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage });
}

/** Runs `body`; on failure screenshots the given pages as fail-*.png before rethrowing. */
async function capturing(label, pages, body) {
  try {
    await body();
  } catch (e) {
    for (const [name, page] of Object.entries(pages())) {
      if (page && !page.isClosed()) {
        await page.screenshot({ path: path.join(ARTIFACTS, `fail-${label}-${name}.png`), fullPage: true }).catch(() => {});
      }
    }
    throw e;
  }
}

function assertNoPageErrors(prefixes) {
  const mine = pageErrors.filter((e) => prefixes.some((p) => e.startsWith(p + ':')));
  assert.deepEqual(mine, [], 'uncaught errors in the page');
}

/** "₹49.72" → 4972 (paise); null for "—" or empty. */
function cents(text) {
  const m = /(-)?[^\d-]*([\d,]+)\.(\d{2})/.exec(String(text || '').trim());
  if (!m) return null;
  const v = Number(m[2].replace(/,/g, '')) * 100 + Number(m[3]);
  return m[1] ? -v : v;
}

const text = async (page, sel) => ((await page.locator(sel).textContent()) ?? '').trim();

async function customerLogin(page, email) {
  await page.goto(baseUrl + '/user-panel.html');
  await page.locator('#login-email').fill(email);
  await page.locator('#login-password').fill(PASSWORD);
  await page.locator('#login-btn').click();
  await page.locator('#app-view').waitFor({ state: 'visible' });
  // wallet loaded and the stations list rendered
  await page.waitForFunction(() => /\d/.test(document.getElementById('balance').textContent));
  await page.locator('.connector').first().waitFor({ state: 'visible' });
}

/** Selects a connector and fills the prepay amount; the page is then one click from starting. */
async function prepareStart(page, deviceId, connectorId, amount) {
  const btn = page.locator(`[data-testid="connector-${deviceId}-${connectorId}"]`);
  await btn.waitFor({ state: 'visible' });
  await btn.click();
  await page.waitForFunction(
    ([d, c]) => {
      const b = document.querySelector(`[data-testid="connector-${d}-${c}"]`);
      return b && b.getAttribute('aria-pressed') === 'true';
    },
    [deviceId, connectorId],
  );
  await page.locator('#amount').fill(String(amount));
  assert.match(await text(page, '#selection'), new RegExp(`connector ${connectorId}`));
}

/** Waits until the start request has finished and its message is shown; returns {kind, text}. */
async function startOutcome(page) {
  await page.waitForFunction(() => {
    const m = document.getElementById('message');
    const b = document.getElementById('start-btn');
    return m.textContent.trim() !== '' && !b.disabled && !b.querySelector('.spinner');
  }, null, { timeout: 40000 });
  return page.evaluate(() => {
    const m = document.getElementById('message');
    return { kind: m.classList.contains('success') ? 'success' : m.classList.contains('error') ? 'error' : m.className, text: m.textContent.trim() };
  });
}

async function waitBalance(page, expected, timeout = 10000) {
  await page.waitForFunction(
    (want) => document.getElementById('balance').textContent.trim() === want,
    expected,
    { timeout },
  ).catch(async () => {
    throw new Error(`balance on screen is ${await text(page, '#balance')}, expected ${expected}`);
  });
}

async function waitSessionStatus(page, status, timeout = 20000) {
  await page.waitForFunction(
    (want) => {
      const card = document.getElementById('session-card');
      return !card.hidden && document.getElementById('session-status').textContent.trim() === want;
    },
    status,
    { timeout },
  ).catch(async () => {
    throw new Error(`session status on screen is "${await text(page, '#session-status')}", expected "${status}"`);
  });
}

// ------------------------------------------------------------------ server + browser

before(async () => {
  assert.ok(fs.existsSync(BIN), `csms binary not found at ${BIN} (set CSMS_BIN)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) if (f.endsWith('.png')) fs.rmSync(path.join(ARTIFACTS, f));
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csms-browser-'));
  const [httpPort, ocppPort] = [await freePort(), await freePort()];
  baseUrl = `http://127.0.0.1:${httpPort}`;
  serverLog = fs.openSync(path.join(ARTIFACTS, 'csms.log'), 'w');
  server = spawn(BIN, ['demo'], {
    cwd: REPO,
    env: {
      ...process.env,
      DATABASE_URL: `sqlite://${path.join(tmpDir, 'csms.db')}`,
      CSMS_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      CSMS_OCPP_ADDR: `127.0.0.1:${ocppPort}`,
      CSMS_BCRYPT_COST: '4',
      RUST_LOG: process.env.RUST_LOG || 'info',
    },
    stdio: ['ignore', serverLog, serverLog],
  });
  const exited = once(server, 'exit').then(([code, sig]) => { throw new Error(`csms demo exited early (code ${code}, signal ${sig}); see test-artifacts/browser/csms.log`); });
  exited.catch(() => {}); // only raced below
  const ready = until('csms demo: /healthz with both simulated chargers online', async () => {
    const res = await fetch(baseUrl + '/healthz');
    if (!res.ok) return false;
    const h = await res.json();
    return h.chargersOnline === 2;
  }, 30000, 150);
  await Promise.race([ready, exited]);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    const gone = once(server, 'exit');
    server.kill('SIGTERM');
    const t = setTimeout(() => server.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
  if (serverLog !== null) fs.closeSync(serverLog);
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ tests

// Shared between tests: who lost the race still has an untouched ₹100 wallet.
let raceLoserEmail = 'customer2@example.com';

test('seed race: two customers start the same connector at once, exactly one wins', async (t) => {
  let p1;
  let p2;
  await capturing('race', () => ({ customer1: p1, customer2: p2 }), async () => {
    p1 = await newPage('customer1');
    p2 = await newPage('customer2');
    await Promise.all([customerLogin(p1, 'customer1@example.com'), customerLogin(p2, 'customer2@example.com')]);
    await waitBalance(p1, '₹100.00');
    await waitBalance(p2, '₹100.00');
    await Promise.all([prepareStart(p1, 'DEVAFGKV1UW', 1, 50), prepareStart(p2, 'DEVAFGKV1UW', 1, 50)]);

    const sentAt = [];
    for (const p of [p1, p2]) {
      p.on('request', (req) => { if (req.url().endsWith('/api/user/charging/start')) sentAt.push(Date.now()); });
    }
    await Promise.all([p1.locator('#start-btn').click(), p2.locator('#start-btn').click()]);
    const [r1, r2] = await Promise.all([startOutcome(p1), startOutcome(p2)]);

    assert.equal(sentAt.length, 2, 'each page sent one start request');
    t.diagnostic(`the two start requests left ${Math.abs(sentAt[1] - sentAt[0])} ms apart`);
    const winners = [r1, r2].filter((r) => r.kind === 'success');
    assert.equal(winners.length, 1, `exactly one start succeeds: customer1 ${JSON.stringify(r1)}, customer2 ${JSON.stringify(r2)}`);
    const c1Won = r1.kind === 'success';
    const [winPage, losePage] = c1Won ? [p1, p2] : [p2, p1];
    const [win, lose] = c1Won ? [r1, r2] : [r2, r1];
    raceLoserEmail = c1Won ? 'customer2@example.com' : 'customer1@example.com';

    assert.equal(win.text, STARTED);
    assert.equal(lose.kind, 'error');
    assert.equal(lose.text, IN_USE);
    await waitBalance(winPage, '₹50.00');
    await waitBalance(losePage, '₹100.00');
    // the winner's live card shows the new session; the loser has none
    assert.equal(await winPage.locator('#session-card').isVisible(), true);
    assert.equal(await losePage.locator('#session-card').isVisible(), false);

    await shot(winPage, 'race-winner.png', { fullPage: true });
    await shot(losePage, 'race-loser.png', { fullPage: true });

    // Clean up: the winner stops the session (the charger may still be starting it).
    await waitSessionStatus(winPage, 'active');
    await winPage.locator('#stop-btn').click();
    await waitSessionStatus(winPage, 'completed');
    const cost = cents(await text(winPage, '#session-cost'));
    assert.notEqual(cost, null);
    await waitBalance(winPage, inr(10000 - cost));
    assertNoPageErrors(['customer1', 'customer2']);
  });
});

/** Paise → "₹12.34", as the panels print money. */
function inr(c) {
  const sign = c < 0 ? '-' : '';
  const a = Math.abs(c);
  return `${sign}₹${Math.floor(a / 100)}.${String(a % 100).padStart(2, '0')}`;
}

test('full session in the user panel: start, live energy, stop, refund', async () => {
  let page;
  await capturing('session', () => ({ customer: page }), async () => {
    page = await newPage('session');
    const streams = [];
    page.on('request', (r) => { if (r.url().includes('/api/user/events')) streams.push(r.url()); });
    await customerLogin(page, raceLoserEmail);
    await waitBalance(page, '₹100.00');
    // The live stream opens with a short-lived ticket, never with the API token in the URL.
    await page.waitForFunction(() => document.getElementById('live').textContent.trim() === 'Live');
    const opened = streams.filter((u) => u.includes('/api/user/events?'));
    assert.ok(opened.length >= 1, `no event stream opened: ${streams.join(' ')}`);
    for (const u of opened) assert.match(u, /\/api\/user\/events\?ticket=[^&]+$/);
    assert.ok(streams.some((u) => u.endsWith('/api/user/events/ticket')), 'a ticket was asked for');
    await prepareStart(page, 'DEVDEMO2', 1, 50);
    await page.locator('#start-btn').click();
    const r = await startOutcome(page);
    assert.deepEqual(r, { kind: 'success', text: STARTED });
    await waitBalance(page, '₹50.00');
    await page.locator('#session-card').waitFor({ state: 'visible' });
    await shot(page, 'session-start.png');

    // MeterValues arrive every 5 s: the live energy must rise above zero.
    await waitSessionStatus(page, 'active');
    await page.waitForFunction(() => Number(document.getElementById('session-energy').textContent) > 0, null, { timeout: 20000 })
      .catch(async () => { throw new Error(`live energy stayed at ${await text(page, '#session-energy')} kWh`); });
    assert.ok(cents(await text(page, '#session-cost')) >= 0);
    await shot(page, 'session-mid.png');

    await page.locator('#stop-btn').click();
    await waitSessionStatus(page, 'completed');
    await page.waitForFunction(() => document.getElementById('session-refund').textContent.trim() !== '—');
    const energy = Number(await text(page, '#session-energy'));
    const cost = cents(await text(page, '#session-cost'));
    const refund = cents(await text(page, '#session-refund'));
    assert.ok(energy > 0, `energy ${energy} kWh`);
    assert.ok(cost !== null && cost > 0, `cost ${await text(page, '#session-cost')}`);
    assert.equal(refund, 5000 - cost, 'refund = prepaid − cost');
    await waitBalance(page, inr(10000 - cost));
    assert.match(await text(page, '#session-note'), /refunded to your wallet/);
    // the history lists the session as completed
    await page.waitForFunction(() => /completed/i.test(document.querySelector('#sessions-list li[data-session]')?.textContent || ''));
    await shot(page, 'session-end.png', { fullPage: true });
    assertNoPageErrors(['session']);
  });
});

test('operator console: chargers online, Reset answered Accepted', async () => {
  let page;
  await capturing('admin', () => ({ admin: page }), async () => {
    page = await newPage('admin');
    await page.goto(baseUrl + '/admin.html');
    await page.locator('#admin-email').fill('admin@example.com');
    await page.locator('#admin-password').fill('admin');
    await page.locator('#admin-login-btn').click();
    await page.locator('#console-view').waitFor({ state: 'visible' });

    const row = page.locator('#chargers-body tr[data-device="DEVAFGKV1UW"]');
    await row.waitFor({ state: 'visible' });
    await page.waitForFunction(() => {
      const b = document.querySelector('#chargers-body tr[data-device="DEVAFGKV1UW"] [data-testid="online-badge"]');
      return b && b.textContent.trim() === 'Online';
    });
    await page.waitForFunction(() => document.getElementById('stat-online').textContent.trim() === '2 / 2');

    await row.locator('button[data-action="Reset"]').click();
    await page.waitForFunction(() => {
      const el = document.getElementById('command-result');
      return el.dataset.state && el.dataset.state !== 'pending';
    }, null, { timeout: 40000 });
    const result = page.locator('#command-result');
    assert.equal(await result.getAttribute('data-state'), 'success', await result.textContent());
    assert.equal(await result.getAttribute('data-result-device'), 'DEVAFGKV1UW');
    assert.equal(await result.getAttribute('data-result-action'), 'Reset');
    assert.match(await result.textContent(), /Accepted/);
    await shot(page, 'admin-reset.png');
    assertNoPageErrors(['admin']);
  });
});

test('landing page and Swagger UI render under their Content-Security-Policy', async () => {
  let page;
  await capturing('csp', () => ({ csp: page }), async () => {
    page = await newPage('csp');
    const res = await page.goto(baseUrl + '/');
    assert.match(res.headers()['content-security-policy'] || '', /frame-ancestors 'none'/);
    assert.equal(await page.locator('.link-card').count(), 3);
    // the icons' colours come from app.css now, not from style attributes
    const bg = await page.locator('.link-card .ic').first().evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.notEqual(bg, 'rgba(0, 0, 0, 0)');
    await page.goto(baseUrl + '/swagger-ui/');
    await page.locator('.swagger-ui .info .title').waitFor({ state: 'visible' });
    await page.locator('.swagger-ui .opblock').first().waitFor({ state: 'visible' });
    await shot(page, 'swagger-ui.png');
    assertNoPageErrors(['csp']);
  });
});
