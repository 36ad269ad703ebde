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
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
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
let ocppPort = 0;
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

async function newPage(name, viewport = VIEWPORT) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-US' });
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

async function adminLogin(page) {
  await page.goto(baseUrl + '/admin.html');
  await page.locator('#admin-email').fill('admin@example.com');
  await page.locator('#admin-password').fill('admin');
  await page.locator('#admin-login-btn').click();
  await page.locator('#console-view').waitFor({ state: 'visible' });
}

/** A JSON API call from the test itself: {status, data}. */
async function callApi(method, urlPath, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const res = await fetch(baseUrl + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const raw = await res.text();
  let data = null;
  try { data = JSON.parse(raw); } catch (_) { data = raw; }
  return { status: res.status, data };
}

async function apiToken(kind, email, password) {
  const r = await callApi('POST', `/api/${kind}/login`, { body: { email, password } });
  assert.equal(r.status, 200, JSON.stringify(r.data));
  return r.data.token;
}

/**
 * An OCPP WebSocket handshake as a charger makes it (HTTP Basic auth when `password` is given);
 * resolves with the HTTP status: 101 when csms accepts it (the socket is closed at once), else 401/404.
 */
function ocppHandshake(deviceId, password) {
  return new Promise((resolve, reject) => {
    const headers = {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': crypto.randomBytes(16).toString('base64'),
      'Sec-WebSocket-Protocol': 'ocpp1.6',
    };
    if (password !== undefined) headers.Authorization = 'Basic ' + Buffer.from(`${deviceId}:${password}`).toString('base64');
    const req = http.request({ host: '127.0.0.1', port: ocppPort, path: `/ocpp/${encodeURIComponent(deviceId)}`, headers });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve(res.statusCode); });
    req.on('response', (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error('OCPP handshake timed out')));
    req.end();
  });
}

// ------------------------------------------------------------------ server + browser

before(async () => {
  assert.ok(fs.existsSync(BIN), `csms binary not found at ${BIN} (set CSMS_BIN)`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) if (f.endsWith('.png')) fs.rmSync(path.join(ARTIFACTS, f));
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'csms-browser-'));
  const httpPort = await freePort();
  ocppPort = await freePort();
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
      CSMS_CA_DIR: path.join(tmpDir, 'ca'),
      RUST_LOG: process.env.RUST_LOG || 'info',
    },
    stdio: ['ignore', serverLog, serverLog],
  });
  const exited = once(server, 'exit').then(([code, sig]) => { throw new Error(`csms demo exited early (code ${code}, signal ${sig}); see test-artifacts/browser/csms.log`); });
  exited.catch(() => {}); // only raced below
  const ready = until('csms demo: /healthz with the three simulated chargers online (two on 1.6, one on 2.0.1)', async () => {
    const res = await fetch(baseUrl + '/healthz');
    if (!res.ok) return false;
    const h = await res.json();
    return h.chargersOnline === 3;
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

test('fresh demo console: local lists not alarming, customers\' idTags listed with the tokens, labels not cut off', async () => {
  let page;
  await capturing('fresh', () => ({ fresh: page }), async () => {
    page = await newPage('fresh');
    await adminLogin(page);
    const device = 'DEVAFGKV1UW';
    const row = page.locator(`#chargers-body tr[data-device="${device}"]`);
    await row.waitFor({ state: 'visible' });
    // Status sums up the connectors (connector 0 alone said "Available" while one charged)
    await page.waitForFunction((d) => document.querySelector(`#chargers-body tr[data-device="${d}"] [data-testid="charger-status"]`)?.textContent.trim() === 'Available', device);
    // the demo customers' own idTags are listed with the tokens, and can be reserved for
    for (const tag of ['DEMOCUST1', 'DEMOCUST2']) {
      await page.locator(`#tokens-body tr[data-customer-tag="${tag}"]`).waitFor({ state: 'visible' });
      await page.waitForFunction((t) => [...document.getElementById('reservation-idtag').options].some((o) => o.value === t), tag);
    }
    assert.match((await page.locator('#tokens-body tr[data-customer-tag="DEMOCUST1"]').textContent()).replace(/\s+/g, ' '), /Customer One/);
    assert.equal(await text(page, '#count-tokens'), String(await page.locator('#tokens-body tr').count()));

    // a fresh demo's local list: nothing to send yet, not "Out of sync / never sent"
    await row.locator('[data-manage]').click();
    const det = page.locator(`#chargers-body tr.detail[data-detail-for="${device}"]`);
    await det.waitFor({ state: 'visible' });
    await page.waitForFunction((d) => document.querySelector(`tr.detail[data-detail-for="${d}"] [data-testid="local-list-sync"]`), device);
    const chip = (await det.locator('[data-testid="local-list-sync"]').textContent()).trim();
    assert.equal(chip, 'Nothing to send');
    assert.doesNotMatch(await det.locator('[data-ll-state]').textContent(), /Out of sync|never sent/);

    // the Manage panel's menus are as wide as their longest choice
    const cut = await det.evaluate((el) => {
      const ctx = document.createElement('canvas').getContext('2d');
      const out = [];
      for (const sel of el.querySelectorAll('select')) {
        if (!sel.offsetParent) continue;
        const cs = getComputedStyle(sel);
        ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
        // the longest choice, the padding and the arrow (about 12 px)
        const need = Math.max(...[...sel.options].map((o) => ctx.measureText(o.text).width)) + parseFloat(cs.paddingLeft) + parseFloat(cs.paddingRight) + 12;
        if (sel.clientWidth + 1 < need) out.push(`${sel.outerHTML.slice(0, 60)}: ${sel.clientWidth} < ${Math.ceil(need)}`);
      }
      return out;
    });
    assert.deepEqual(cut, [], 'menus cut off');
    // the smart-charging form uses the detail's whole width
    const [sc, inner] = await Promise.all([
      det.locator('[data-sc-panel]').evaluate((e) => e.getBoundingClientRect().width),
      det.locator('.detail-inner').evaluate((e) => e.getBoundingClientRect().width),
    ]);
    assert.ok(sc > 0.9 * (inner - 32), `smart charging ${sc} px of ${inner} px`);
    await shot(page, 'fresh-console.png', { fullPage: true });
    assertNoPageErrors(['fresh']);
  });
});

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

test('seed race on the OCPP 2.0.1 demo charger: exactly one wins, the loser pays nothing, the winner charges and is refunded', async (t) => {
  let p1;
  let p2;
  await capturing('race201', () => ({ customer1: p1, customer2: p2 }), async () => {
    p1 = await newPage('race201-customer1');
    p2 = await newPage('race201-customer2');
    await Promise.all([customerLogin(p1, 'customer1@example.com'), customerLogin(p2, 'customer2@example.com')]);
    const before = [cents(await text(p1, '#balance')), cents(await text(p2, '#balance'))];
    const tokens = [await apiToken('customer', 'customer1@example.com', PASSWORD), await apiToken('customer', 'customer2@example.com', PASSWORD)];
    const sessionsOf = async (token) => (await callApi('GET', '/api/user/charging/sessions', { token })).data.sessions;
    const sessionsBefore = [(await sessionsOf(tokens[0])).length, (await sessionsOf(tokens[1])).length];
    assert.ok(before.every((b) => b >= 2000), `both can pay ₹20: ${before}`);
    await Promise.all([prepareStart(p1, 'DEVDEMO3', 1, 20), prepareStart(p2, 'DEVDEMO3', 1, 20)]);
    await Promise.all([p1.locator('#start-btn').click(), p2.locator('#start-btn').click()]);
    const [r1, r2] = await Promise.all([startOutcome(p1), startOutcome(p2)]);
    const winners = [r1, r2].filter((r) => r.kind === 'success');
    assert.equal(winners.length, 1, `exactly one start succeeds: customer1 ${JSON.stringify(r1)}, customer2 ${JSON.stringify(r2)}`);
    const c1Won = r1.kind === 'success';
    const [winPage, losePage] = c1Won ? [p1, p2] : [p2, p1];
    const [win, lose] = c1Won ? [r1, r2] : [r2, r1];
    const [winBefore, loseBefore] = c1Won ? before : [before[1], before[0]];
    t.diagnostic(`customer${c1Won ? 1 : 2} won on DEVDEMO3 (OCPP 2.0.1)`);
    assert.equal(win.text, STARTED);
    assert.equal(lose.kind, 'error');
    assert.equal(lose.text, IN_USE);
    await waitBalance(winPage, inr(winBefore - 2000));
    await waitBalance(losePage, inr(loseBefore));
    const [winToken, loseToken] = c1Won ? tokens : [tokens[1], tokens[0]];
    const [winCount, loseCount] = c1Won ? sessionsBefore : [sessionsBefore[1], sessionsBefore[0]];
    assert.equal((await sessionsOf(loseToken)).length, loseCount, 'no session for the loser');
    const mine = await sessionsOf(winToken);
    assert.equal(mine.length, winCount + 1, 'one session for the winner');
    assert.ok(mine.some((x) => x.deviceId === 'DEVDEMO3' && ['pending', 'active'].includes(x.status)), JSON.stringify(mine[0]));

    // The 2.0.1 station starts (TransactionEvent Started), meters every 5 s, and stops when asked.
    await waitSessionStatus(winPage, 'active');
    await winPage.waitForFunction(() => Number(document.getElementById('session-energy').textContent) > 0, null, { timeout: 20000 })
      .catch(async () => { throw new Error(`live energy stayed at ${await text(winPage, '#session-energy')} kWh`); });
    await shot(winPage, 'race201-winner.png', { fullPage: true });
    await winPage.locator('#stop-btn').click();
    await waitSessionStatus(winPage, 'completed');
    await winPage.waitForFunction(() => document.getElementById('session-refund').textContent.trim() !== '—');
    const cost = cents(await text(winPage, '#session-cost'));
    const refund = cents(await text(winPage, '#session-refund'));
    assert.ok(cost !== null && cost > 0 && cost <= 2000, `cost ${cost} within the ₹20 authorized`);
    assert.equal(refund, 2000 - cost, 'refund = prepaid − cost');
    await waitBalance(winPage, inr(winBefore - cost));
    await waitBalance(losePage, inr(loseBefore));
    assertNoPageErrors(['race201-customer1', 'race201-customer2']);
  });
});

test('operator console: chargers online, Reset answered Accepted', async () => {
  let page;
  await capturing('admin', () => ({ admin: page }), async () => {
    page = await newPage('admin');
    await adminLogin(page);

    const row = page.locator('#chargers-body tr[data-device="DEVAFGKV1UW"]');
    await row.waitFor({ state: 'visible' });
    await page.waitForFunction(() => {
      const b = document.querySelector('#chargers-body tr[data-device="DEVAFGKV1UW"] [data-testid="online-badge"]');
      return b && b.textContent.trim() === 'Online';
    });
    await page.waitForFunction(() => document.getElementById('stat-online').textContent.trim() === '3 / 3');
    // Which node holds the connection (one node here; in a cluster, any of them).
    assert.match((await row.locator('[data-testid="charger-node"]').textContent()).trim(), /^node \S+$/);

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

    // rotate password: ChangeConfiguration AuthorizationKey with a random 20-byte key, shown once
    // after the charger accepted it
    await row.locator('[data-manage]').click();
    const detail = page.locator('#chargers-body tr.detail[data-detail-for="DEVAFGKV1UW"]');
    await detail.waitFor({ state: 'visible' });
    await detail.locator('[data-rotate-password]').click();
    await page.waitForFunction(() => /success|error/.test(document.querySelector('tr.detail[data-detail-for="DEVAFGKV1UW"] [data-security-message]').className), null, { timeout: 40000 });
    const rotated = detail.locator('[data-security-message]');
    assert.match(await rotated.getAttribute('class'), /success/, await rotated.textContent());
    assert.match(await rotated.textContent(), /accepted its new password/);
    const key = (await detail.locator('[data-secret] [data-testid="secret-value"]').textContent()).trim();
    assert.match(key, /^[0-9a-f]{40}$/, 'a 20-byte key as hex');
    assertNoPageErrors(['admin']);
  });
});

test('operator console: a 2.0.1 station\'s device model (base report, search, set and get), its commands as given', async () => {
  let page;
  await capturing('device-model', () => ({ console: page }), async () => {
    page = await newPage('device-model');
    await adminLogin(page);
    const device = 'DEVDEMO3';
    const row = page.locator(`#chargers-body tr[data-device="${device}"]`);
    await row.waitFor({ state: 'visible' });
    await page.waitForFunction((d) => document.querySelector(`#chargers-body tr[data-device="${d}"] [data-testid="ocpp-version"]`)?.textContent.trim() === 'OCPP 2.0.1', device);
    // its Reset speaks 2.0.1
    assert.deepEqual(await row.locator('[data-reset-type] option').allTextContents(), ['OnIdle', 'Immediate']);
    await row.locator('[data-manage]').click();
    const det = page.locator(`#chargers-body tr.detail[data-detail-for="${device}"]`);
    await det.waitFor({ state: 'visible' });
    // 1.6's commands are not offered; the device model is
    assert.equal(await det.locator('[data-action="GetConfiguration"]').isVisible(), false);
    const panel = det.locator('[data-device-model]');
    await panel.waitFor({ state: 'visible' });
    await panel.locator('[data-dm-report]').click();
    await page.waitForFunction((d) => /FullInventory \(request \d+\): Accepted$/.test(document.querySelector(`tr.detail[data-detail-for="${d}"] [data-dm-message]`)?.textContent || ''), device, { timeout: 20000 });
    const hb = panel.locator('tr[data-variable="OCPPCommCtrlr.HeartbeatInterval"]');
    await hb.waitFor({ state: 'attached', timeout: 20000 });
    // search narrows the tree (and opens what matches)
    await panel.locator('[data-dm-search]').fill('heartbeat');
    await page.waitForFunction((d) => /^1 of \d+ attributes$/.test(document.querySelector(`tr.detail[data-detail-for="${d}"] [data-dm-count]`)?.textContent || ''), device);
    await hb.waitFor({ state: 'visible' });
    assert.equal(await panel.locator('tr[data-variable="ChargingStation.Model"]').count(), 0);
    // set, then read back from the station
    await hb.locator('[data-dm-new]').fill('30');
    await hb.locator('[data-dm-set]').click();
    await page.waitForFunction((d) => document.querySelector(`tr.detail[data-detail-for="${d}"] tr[data-variable="OCPPCommCtrlr.HeartbeatInterval"] [data-dm-result]`)?.textContent === 'Accepted', device, { timeout: 20000 });
    await hb.locator('[data-dm-get]').click();
    await page.waitForFunction((d) => document.querySelector(`tr.detail[data-detail-for="${d}"] tr[data-variable="OCPPCommCtrlr.HeartbeatInterval"] [data-dm-result]`)?.textContent === 'Accepted: 30', device, { timeout: 20000 });
    // a read-only variable has no Set
    await panel.locator('[data-dm-search]').fill('Model');
    const model = panel.locator('tr[data-variable="ChargingStation.Model"]');
    await model.waitFor({ state: 'visible' });
    assert.equal(await model.locator('[data-dm-set]').count(), 0);
    // any 2.0.1 command as given: bad JSON is refused in the page, a good one reaches the station
    await det.locator('[data-given-action]').selectOption('TriggerMessage');
    await det.locator('[data-given-payload]').fill('{"requestedMessage": ');
    await det.locator('[data-action="Given201"]').click();
    await page.waitForFunction(() => document.getElementById('command-result').dataset.state === 'error');
    assert.match(await text(page, '#command-result'), /not valid JSON/);
    await det.locator('[data-given-payload]').fill('{"requestedMessage": "Heartbeat"}');
    await det.locator('[data-action="Given201"]').click();
    await page.waitForFunction(() => document.getElementById('command-result').dataset.state === 'success', null, { timeout: 40000 });
    assert.equal(await page.locator('#command-result').getAttribute('data-result-action'), 'TriggerMessage');
    assert.match(await text(page, '#command-result'), /Accepted/);
    await shot(page, 'device-model.png', { fullPage: true });
    assertNoPageErrors(['device-model']);
  });
});

test('operator console: a charger certificate is issued and a security log uploaded', async () => {
  let page;
  await capturing('certificates', () => ({ certificates: page }), async () => {
    page = await newPage('certificates');
    await adminLogin(page);
    const device = 'DEVAFGKV1UW';
    const row = page.locator(`#chargers-body tr[data-device="${device}"]`);
    await row.waitFor({ state: 'visible' });
    await row.locator('[data-manage]').click();
    const detail = page.locator(`#chargers-body tr.detail[data-detail-for="${device}"]`);
    await detail.waitFor({ state: 'visible' });
    // ExtendedTriggerMessage SignChargePointCertificate: the simulator sends a CSR, csms signs it,
    // the simulator accepts the certificate; the panel shows it with its expiry.
    await detail.locator('[data-sec-cert]').click();
    await page.waitForFunction((d) => {
      const c = document.querySelector(`tr.detail[data-detail-for="${d}"] [data-certs] [data-testid="cert-status"]`);
      return c && c.textContent.trim() === 'Accepted';
    }, device, { timeout: 20000 });
    assert.match(await detail.locator('[data-certs] tr[data-cert]').first().textContent(), new RegExp(device));
    // GetLog SecurityLog: uploaded to csms, offered for download.
    await detail.locator('[data-sec-log]').click();
    await page.waitForFunction((d) => {
      const j = document.querySelector(`tr.detail[data-detail-for="${d}"] [data-sec-jobs] tr[data-sec-job]`);
      return j && j.dataset.status === 'Uploaded';
    }, device, { timeout: 20000 });
    assert.equal(await detail.locator('[data-sec-jobs] [data-sec-file]').count(), 1);
    await shot(page, 'admin-certificates.png');
    assertNoPageErrors(['certificates']);
  });
});

test('operator console: register chargers, a generated password is shown once, security settings', async () => {
  let page;
  await capturing('register', () => ({ register: page }), async () => {
    page = await newPage('register');
    await adminLogin(page);
    // the demo station is in the form's station list
    await page.waitForFunction(() => [...document.getElementById('charger-station').options].some((o) => o.value !== ''));
    const device = 'DEVE2EREG1';
    const secret = page.locator('#charger-secret');
    const message = page.locator('#charger-message');

    // a password outside 16–40 characters: the server's answer is shown, nothing is registered
    await page.locator('#charger-device').fill(device);
    await page.locator('#charger-password').fill('too-short');
    await page.locator('#charger-btn').click();
    await page.waitForFunction(() => document.getElementById('charger-message').classList.contains('error'));
    assert.equal((await message.textContent()).trim(), 'ocppPassword must be 16 to 40 characters');
    assert.equal(await secret.isVisible(), false);

    // profile 1 (the default) without a password: csms generates one and shows it once
    await page.locator('#charger-password').fill('');
    assert.equal(await page.locator('#charger-profile').inputValue(), '1');
    await page.locator('#charger-btn').click();
    await secret.waitFor({ state: 'visible' });
    assert.match(await message.getAttribute('class'), /success/);
    assert.match(await message.textContent(), new RegExp(`Charger ${device} registered .*security profile 1`));
    const password = (await secret.locator('[data-testid="secret-value"]').textContent()).trim();
    assert.match(password, /^[0-9a-f]{40}$/, 'a generated password: 40 hex digits');
    assert.match(await secret.textContent(), /will not be shown again/);
    const row = page.locator(`#chargers-body tr[data-device="${device}"]`);
    await row.waitFor({ state: 'visible' });
    assert.equal((await row.locator('[data-testid="security-profile"]').textContent()).trim(), 'Profile 1');
    await shot(page, 'admin-register-password.png');

    // the password is the charger's: the OCPP handshake accepts it and nothing else
    assert.equal(await ocppHandshake(device, password), 101);
    assert.equal(await ocppHandshake(device, 'x'.repeat(40)), 401);
    assert.equal(await ocppHandshake(device), 401);

    // shown once: the API never returns it again, and a reload of the console does not show it
    const token = await apiToken('admin', 'admin@example.com', 'admin');
    for (const p of [`/api/admin/chargers/${device}`, '/api/admin/chargers']) {
      const r = await callApi('GET', p, { token });
      assert.equal(r.status, 200);
      assert.ok(!JSON.stringify(r.data).includes(password), `${p} does not return the password`);
    }
    await secret.locator('[data-secret-dismiss]').click();
    assert.equal(await secret.isVisible(), false);
    await page.reload();
    await page.locator('#console-view').waitFor({ state: 'visible' });
    await row.waitFor({ state: 'visible' });
    assert.ok(!(await page.content()).includes(password), 'the password is nowhere on the page after a reload');

    // profile 0 only when chosen explicitly: no password field, no password shown
    await page.locator('#charger-device').fill('DEVE2EREG0');
    await page.locator('#charger-profile').selectOption('0');
    assert.equal(await page.locator('#charger-password').isDisabled(), true);
    await page.locator('#charger-btn').click();
    await page.waitForFunction(() => /DEVE2EREG0 registered/.test(document.getElementById('charger-message').textContent));
    assert.match(await message.textContent(), /without authentication \(security profile 0\)/);
    assert.equal(await secret.isVisible(), false);
    await page.locator('#chargers-body tr[data-device="DEVE2EREG0"]').waitFor({ state: 'visible' });
    const row0 = page.locator('#chargers-body tr[data-device="DEVE2EREG0"]');
    assert.equal((await row0.locator('[data-testid="security-profile"]').textContent()).trim(), 'Profile 0');
    assert.match(await row0.locator('[data-cell="charger"]').textContent(), /no authentication/);
    assert.equal(await ocppHandshake('DEVE2EREG0'), 101);

    // settings of the first charger: profile 0, then back to 1, which generates a new password
    await row.locator('[data-manage]').click();
    const detail = page.locator(`#chargers-body tr.detail[data-detail-for="${device}"]`);
    await detail.waitFor({ state: 'visible' });
    const settingsMessage = detail.locator('[data-security-message]');
    assert.equal(await detail.locator('[data-profile]').inputValue(), '1');
    await detail.locator('[data-profile]').selectOption('0');
    await detail.locator('[data-save-security]').click();
    await page.waitForFunction((d) => /without authentication/.test(document.querySelector(`tr.detail[data-detail-for="${d}"] [data-security-message]`).textContent), device);
    await page.waitForFunction((d) => document.querySelector(`tr[data-device="${d}"] [data-testid="security-profile"]`).textContent.trim() === 'Profile 0', device);
    assert.equal(await ocppHandshake(device), 101);

    await detail.locator('[data-profile]').selectOption('1');
    await detail.locator('[data-save-security]').click();
    const settingsSecret = detail.locator('[data-secret]');
    await settingsSecret.waitFor({ state: 'visible' });
    assert.match(await settingsMessage.textContent(), /generated/);
    const second = (await settingsSecret.locator('[data-testid="secret-value"]').textContent()).trim();
    assert.match(second, /^[0-9a-f]{40}$/);
    assert.notEqual(second, password);
    assert.match(await settingsSecret.textContent(), /will not be shown again/);
    await page.waitForFunction((d) => document.querySelector(`tr[data-device="${d}"] [data-testid="security-profile"]`).textContent.trim() === 'Profile 1', device);
    assert.equal(await ocppHandshake(device, second), 101);
    assert.equal(await ocppHandshake(device, password), 401);
    assert.equal(await ocppHandshake(device), 401);

    // an operator's own password: saved, nothing generated or shown
    const own = 'operator-chosen-secret-01';
    await detail.locator('[data-new-password]').fill(own);
    await detail.locator('[data-save-security]').click();
    await page.waitForFunction((d) => /New password saved/.test(document.querySelector(`tr.detail[data-detail-for="${d}"] [data-security-message]`).textContent), device);
    assert.equal(await settingsSecret.isVisible(), false);
    assert.equal(await ocppHandshake(device, own), 101);
    assert.equal(await ocppHandshake(device, second), 401);
    await shot(page, 'admin-charger-settings.png');
    assertNoPageErrors(['register']);
  });
});

test('operator console: force-close an open session with a reason', async () => {
  let page;
  await capturing('close', () => ({ close: page }), async () => {
    // two sessions started by a demo customer through the API
    const customer = await apiToken('customer', 'customer1@example.com', PASSWORD);
    const start = async (deviceId, connectorId) => {
      const r = await callApi('POST', '/api/user/charging/start', { token: customer, body: { deviceId, connectorId, amount: 10 } });
      assert.equal(r.status, 200, JSON.stringify(r.data));
      assert.equal(r.data.message, STARTED);
      return r.data.session.sessionId;
    };
    const lost = await start('DEVAFGKV1UW', 2);
    const other = await start('DEVDEMO2', 1);

    page = await newPage('close');
    await adminLogin(page);
    const rowOf = (id) => page.locator(`#sessions-body tr[data-session="${id}"]`);
    await page.waitForFunction((ids) => ids.every((id) => {
      const tr = document.querySelector(`#sessions-body tr[data-session="${id}"]`);
      return tr && tr.dataset.status === 'active';
    }), [lost, other], { timeout: 20000 });
    const form = page.locator('#close-form');
    const formMessage = page.locator('#close-message');
    const closeError = () => page.waitForFunction(() => document.getElementById('close-message').classList.contains('error'));

    // someone else closes `other` while the operator is typing: the console shows the 409
    await rowOf(other).locator('[data-close-session]').click();
    await form.waitFor({ state: 'visible' });
    assert.equal(await form.getAttribute('data-session'), other);
    await page.locator('#close-reason').fill('too late');
    const operator = await apiToken('admin', 'admin@example.com', 'admin');
    const closed = await callApi('POST', `/api/admin/sessions/${other}/close`, { token: operator, body: { reason: 'closed over the API' } });
    assert.equal(closed.status, 200, JSON.stringify(closed.data));
    await page.locator('#close-btn').click();
    await closeError();
    assert.equal((await formMessage.textContent()).trim(), 'Session has already ended');
    await page.locator('#close-cancel').click();
    await form.waitFor({ state: 'hidden' });
    await page.waitForFunction((id) => document.querySelector(`#sessions-body tr[data-session="${id}"]`)?.dataset.status === 'completed', other);

    // the operator closes `lost`: a reason is required (the server's 400 is shown), then it settles
    await rowOf(lost).locator('[data-close-session]').click();
    await form.waitFor({ state: 'visible' });
    assert.equal(await form.getAttribute('data-session'), lost);
    assert.equal(await page.locator('#close-reason').inputValue(), '', 'a fresh form for another session');
    await page.locator('#close-btn').click();
    await closeError();
    assert.equal((await formMessage.textContent()).trim(), 'reason is required (at most 500 characters)');
    assert.equal(await rowOf(lost).getAttribute('data-status'), 'active');
    const reason = 'E2E: the charger lost this transaction';
    await page.locator('#close-reason').fill(reason);
    await shot(page, 'admin-close-form.png');
    await page.locator('#close-btn').click();
    await form.waitFor({ state: 'hidden' });
    await page.waitForFunction((id) => document.querySelector(`#sessions-body tr[data-session="${id}"]`)?.dataset.status === 'completed', lost);
    const note = (await rowOf(lost).locator('[data-testid="session-note"]').textContent()).replace(/\s+/g, ' ').trim();
    assert.match(note, /ForceClosed/);
    assert.ok(note.includes(`closed by operator admin@example.com: ${reason}`), note);
    assert.equal(await rowOf(lost).locator('[data-close-session]').count(), 0, 'no Close button on a completed session');

    // the customer sees the same: completed, the reason on the session, the rest refunded
    const mine = await callApi('GET', `/api/user/charging/sessions/${lost}`, { token: customer });
    assert.equal(mine.status, 200);
    const s = mine.data.session || mine.data;
    assert.equal(s.status, 'completed');
    assert.equal(s.stopReason, 'ForceClosed');
    assert.ok(String(s.note).includes(reason), JSON.stringify(s));
    assert.notEqual(s.refund, null);

    // the status filter still narrows the list
    await page.locator('#filter-status').selectOption('completed');
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('#sessions-body tr[data-session]')];
      return rows.some((r) => r.dataset.session === id) && rows.every((r) => r.dataset.status === 'completed');
    }, lost);
    await page.locator('#filter-status').selectOption('');

    // the write-offs section answered (with its total), whether or not anything was written off
    await page.waitForFunction(() => /^Total /.test(document.getElementById('write-offs-total').textContent));
    await page.locator('#write-offs-body tr').first().waitFor({ state: 'attached' });
    await shot(page, 'admin-sessions-closed.png', { fullPage: true });
    assertNoPageErrors(['close']);
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

// ------------------------------------------------------------------ reservations and tokens

const RESERVED = 'This connector is reserved by another customer.';

/** Waits until the request behind `buttonSel` has finished and #message shows its outcome: {kind, text}. */
async function actionOutcome(page, buttonSel) {
  await page.waitForFunction((sel) => {
    const m = document.getElementById('message');
    const b = document.querySelector(sel);
    return m.textContent.trim() !== '' && !b.disabled && !b.querySelector('.spinner');
  }, buttonSel, { timeout: 40000 });
  return page.evaluate(() => {
    const m = document.getElementById('message');
    return { kind: m.classList.contains('success') ? 'success' : m.classList.contains('error') ? 'error' : m.className, text: m.textContent.trim() };
  });
}

/** The chip text of a connector in the user panel's station list. */
function waitConnectorChip(page, deviceId, connectorId, want, timeout = 20000) {
  return page.waitForFunction(
    ([d, c, w]) => document.querySelector(`[data-testid="connector-${d}-${c}"] .chip`)?.textContent.trim() === w,
    [deviceId, connectorId, want],
    { timeout },
  ).catch(async () => {
    const now = await page.locator(`[data-testid="connector-${deviceId}-${connectorId}"] .chip`).textContent().catch(() => '?');
    throw new Error(`connector ${deviceId}/${connectorId} shows "${now}", expected "${want}"`);
  });
}

/** "14:52" → 892 seconds. */
function seconds(mmss) {
  const parts = String(mmss).trim().split(':').map(Number);
  return parts.reduce((a, x) => a * 60 + x, 0);
}

test('reservations in the user panel: A reserves a connector, B sees it Reserved and cannot start, A starts on it', async () => {
  let pa;
  let pb;
  await capturing('reserve', () => ({ holder: pa, other: pb }), async () => {
    const device = 'DEVAFGKV1UW';
    pa = await newPage('holder');
    pb = await newPage('other');
    await Promise.all([customerLogin(pa, 'customer1@example.com'), customerLogin(pb, 'customer2@example.com')]);
    await waitConnectorChip(pa, device, 1, 'Available');
    assert.equal(await pa.locator('#reservation-card').isVisible(), false, 'no reservation yet');

    // A reserves connector 1 for the default 15 minutes
    await prepareStart(pa, device, 1, 10);
    assert.equal(await pa.locator('#reserve-minutes').inputValue(), '15');
    await pa.locator('#reserve-btn').click();
    const reserved = await actionOutcome(pa, '#reserve-btn');
    assert.equal(reserved.kind, 'success', reserved.text);
    assert.match(reserved.text, /^Connector 1 is reserved for you until /);
    assert.match(reserved.text, / on Demo charger CP-DEMO1 \(Demo Station\)\.$/, 'the message names the charger too');

    // "My reservation": where, and a countdown from about 15:00 that runs down
    const card = pa.locator('#reservation-card');
    await card.waitFor({ state: 'visible' });
    assert.match(await text(pa, '#reservation-where'), /connector 1$/);
    await pa.waitForFunction(() => document.getElementById('reservation-status').textContent.trim() === 'reserved');
    const left1 = seconds(await text(pa, '#reservation-countdown'));
    assert.ok(left1 > 14 * 60 && left1 <= 15 * 60, `countdown ${left1} s`);
    await pa.waitForFunction((s) => {
      const [m, x] = document.getElementById('reservation-countdown').textContent.trim().split(':').map(Number);
      return m * 60 + x < s;
    }, left1, { timeout: 5000 });
    await waitConnectorChip(pa, device, 1, 'Reserved by you');
    await shot(pa, 'reserve-holder.png', { fullPage: true });

    // B: the charger reported the connector Reserved (StatusNotification); B's Start is off, with
    // the reason, and the server refuses B's start all the same
    await waitConnectorChip(pb, device, 1, 'Reserved');
    await prepareStart(pb, device, 1, 10);
    await pb.waitForFunction(() => document.getElementById('start-btn').disabled);
    assert.equal(await text(pb, '#start-reason'), RESERVED);
    const tokenOfB = await apiToken('customer', 'customer2@example.com', PASSWORD);
    const refused = await callApi('POST', '/api/user/charging/start', { token: tokenOfB, body: { deviceId: device, connectorId: 1, amount: 10 } });
    assert.equal(refused.data.error, RESERVED, JSON.stringify(refused.data));
    assert.ok(refused.status >= 400, String(refused.status));
    // and so is B's own reservation of it
    await pb.locator('#reserve-btn').click();
    assert.deepEqual(await actionOutcome(pb, '#reserve-btn'), { kind: 'error', text: RESERVED });
    // no session was started for B (its card may still show an earlier, finished one)
    assert.ok(!['pending', 'active', 'stopping'].includes(await pb.locator('#session-card').getAttribute('data-status')));
    assert.equal(await pb.locator('#reservation-card').isVisible(), false);
    await shot(pb, 'reserve-other-refused.png', { fullPage: true });

    // A starts on the reserved connector: the start consumes the reservation
    await pa.locator('#start-btn').click();
    assert.deepEqual(await startOutcome(pa), { kind: 'success', text: STARTED });
    await card.waitFor({ state: 'hidden' });
    const token = await apiToken('customer', 'customer1@example.com', PASSWORD);
    const mine = await callApi('GET', '/api/user/reservations', { token });
    assert.equal(mine.status, 200);
    const r = mine.data.reservations[0];
    assert.equal(r.status, 'used', JSON.stringify(r));
    assert.equal(r.deviceId, device);
    assert.equal(r.connectorId, 1);
    assert.equal(r.sessionId, await pa.locator('#session-card').getAttribute('data-session-id'));

    // clean up: A stops charging
    await waitSessionStatus(pa, 'active');
    await pa.locator('#stop-btn').click();
    await waitSessionStatus(pa, 'completed');

    // B reserves connector 2 for 5 minutes and cancels it from "My reservation"
    await waitConnectorChip(pb, device, 2, 'Available');
    await prepareStart(pb, device, 2, 10);
    await pb.locator('#reserve-minutes').selectOption('5');
    await pb.locator('#reserve-btn').click();
    assert.equal((await actionOutcome(pb, '#reserve-btn')).kind, 'success');
    const cardB = pb.locator('#reservation-card');
    await cardB.waitFor({ state: 'visible' });
    assert.match(await text(pb, '#reservation-where'), /connector 2$/);
    assert.ok(seconds(await text(pb, '#reservation-countdown')) <= 5 * 60);
    await waitConnectorChip(pb, device, 2, 'Reserved by you');
    await pb.locator('#reservation-cancel').click();
    await cardB.waitFor({ state: 'hidden' });
    await waitConnectorChip(pb, device, 2, 'Available'); // the charger let go (CancelReservation)
    const tokenB = await apiToken('customer', 'customer2@example.com', PASSWORD);
    const bs = await callApi('GET', '/api/user/reservations', { token: tokenB });
    assert.equal(bs.data.reservations[0].status, 'cancelled', JSON.stringify(bs.data.reservations[0]));
    assertNoPageErrors(['holder', 'other']);
  });
});

test('operator console: tokens (create, edit status, delete) and reservations (create for a token, cancel)', async () => {
  let page;
  await capturing('tokens', () => ({ tokens: page }), async () => {
    page = await newPage('tokens');
    page.on('dialog', (d) => d.accept()); // the delete confirmation
    await adminLogin(page);
    const tag = 'E2E-FLEET-01';
    const row = page.locator(`#tokens-body tr[data-token="${tag}"]`);
    const tokenMessage = page.locator('#token-message');

    // create a token with every field
    await page.locator('#token-idtag').fill(tag.toLowerCase()); // csms keeps idTags in upper case
    await page.locator('#token-status').selectOption('Accepted');
    await page.locator('#token-expiry').fill('2099-12-31T23:30');
    await page.locator('#token-parent').fill('E2E-FLEET');
    await page.locator('#token-customer').selectOption({ label: 'Customer Two (customer2@example.com)' });
    await page.locator('#token-note').fill('E2E van 12');
    await page.locator('#token-btn').click();
    await page.waitForFunction(() => document.getElementById('token-message').classList.contains('success'));
    assert.match(await tokenMessage.textContent(), new RegExp(`Token ${tag} created \\(Accepted, expires `));
    await row.waitFor({ state: 'visible' });
    assert.equal(await row.getAttribute('data-status'), 'Accepted');
    const cells = (await row.textContent()).replace(/\s+/g, ' ');
    for (const want of ['E2E-FLEET', 'Customer Two', 'E2E van 12', '2099']) assert.ok(cells.includes(want), `${want} in "${cells}"`);

    // the same idTag again: the server's answer is shown
    await page.locator('#token-idtag').fill(tag);
    await page.locator('#token-btn').click();
    await page.waitForFunction(() => document.getElementById('token-message').classList.contains('error'));
    assert.equal((await tokenMessage.textContent()).trim(), 'A token with this idTag already exists');
    await page.locator('#token-idtag').fill('');

    // edit its status: Blocked, then Accepted again
    for (const status of ['Blocked', 'Accepted']) {
      await row.locator('[data-token-status]').selectOption(status);
      await page.waitForFunction(([t, s]) => document.querySelector(`#tokens-body tr[data-token="${t}"]`)?.dataset.status === s, [tag, status]);
      assert.equal((await row.locator('[data-testid="token-status"]').textContent()).trim(), status);
    }
    const operator = await apiToken('admin', 'admin@example.com', 'admin');
    const got = await callApi('GET', `/api/admin/id-tags/${tag}`, { token: operator });
    assert.equal(got.status, 200);
    assert.equal(got.data.idTag.status, 'Accepted');
    assert.equal(got.data.idTag.parentIdTag, 'E2E-FLEET');
    await shot(page, 'admin-tokens.png');

    // reserve a connector for the token
    const device = 'DEVAFGKV1UW';
    await page.waitForFunction((d) => [...document.getElementById('reservation-device').options].some((o) => o.value === d), device);
    await page.locator('#reservation-device').selectOption(device);
    await page.locator('#reservation-connector').selectOption('1');
    await page.waitForFunction((t) => [...document.getElementById('reservation-idtag').options].some((o) => o.value === t), tag);
    await page.locator('#reservation-idtag').selectOption(tag);
    await page.locator('#reservation-minutes').fill('30');
    await page.locator('#reservation-btn').click();
    await page.waitForFunction(() => /success|error/.test(document.getElementById('reservation-message').className), null, { timeout: 40000 });
    const reservationMessage = (await page.locator('#reservation-message').textContent()).trim();
    assert.match(await page.locator('#reservation-message').getAttribute('class'), /success/, reservationMessage);
    const id = /^Reservation #(\d+): /.exec(reservationMessage)?.[1];
    assert.ok(id, reservationMessage);
    assert.match(reservationMessage, new RegExp(`${device} connector 1 held for ${tag} until `));
    const resRow = page.locator(`#reservations-body tr[data-reservation="${id}"]`);
    await page.waitForFunction((i) => document.querySelector(`#reservations-body tr[data-reservation="${i}"]`)?.dataset.status === 'active', id);
    const resText = (await resRow.textContent()).replace(/\s+/g, ' ');
    assert.ok(resText.includes(tag) && resText.includes('connector 1') && resText.includes('token'), resText);
    // the charger reports the connector Reserved
    await page.waitForFunction((d) => [...document.querySelectorAll(`#chargers-body tr[data-device="${d}"] .conn-chips .chip`)]
      .some((c) => c.textContent.trim() === '1 · Reserved'), device, { timeout: 20000 });
    await shot(page, 'admin-reservation.png');

    // cancel it from the console
    await resRow.locator('[data-cancel-reservation]').click();
    await page.waitForFunction((i) => document.querySelector(`#reservations-body tr[data-reservation="${i}"]`)?.dataset.status === 'cancelled', id);
    assert.equal(await resRow.locator('[data-cancel-reservation]').count(), 0, 'no Cancel on a cancelled reservation');
    await page.waitForFunction((d) => [...document.querySelectorAll(`#chargers-body tr[data-device="${d}"] .conn-chips .chip`)]
      .some((c) => c.textContent.trim() === '1 · Available'), device, { timeout: 20000 });
    const listed = await callApi('GET', `/api/admin/reservations?deviceId=${device}&status=cancelled`, { token: operator });
    assert.ok(listed.data.reservations.some((r) => String(r.id) === id && r.idTag === tag), JSON.stringify(listed.data));

    // the status filter narrows the list
    await page.locator('#rfilter-status').selectOption('active');
    await page.waitForFunction((i) => !document.querySelector(`#reservations-body tr[data-reservation="${i}"]`), id);
    await page.locator('#rfilter-status').selectOption('cancelled');
    await resRow.waitFor({ state: 'visible' });
    await page.locator('#rfilter-status').selectOption('');

    // delete the token
    await row.locator('[data-token-delete]').click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await callApi('GET', `/api/admin/id-tags/${tag}`, { token: operator })).status, 404);
    assertNoPageErrors(['tokens']);
  });
});

test('operator console: firmware update and diagnostics, station power limit, charging profiles, local list', async () => {
  let page;
  await capturing('maintenance', () => ({ maintenance: page }), async () => {
    page = await newPage('maintenance');
    page.on('dialog', (d) => d.accept());
    await adminLogin(page);
    const device = 'DEVDEMO2'; // the other tests use DEVAFGKV1UW: this one reboots into new firmware
    const online = () => page.waitForFunction((d) => document.querySelector(`#chargers-body tr[data-device="${d}"] [data-testid="online-badge"]`)
      ?.textContent.trim() === 'Online', device, { timeout: 30000 });
    const settled = (sel) => page.waitForFunction((s) => /success|error/.test(document.querySelector(s)?.className || ''), sel, { timeout: 40000 });
    const success = async (sel) => {
      await settled(sel);
      const m = page.locator(sel);
      const t = (await m.textContent()).trim();
      assert.match(await m.getAttribute('class'), /success/, t);
      return t;
    };

    // the charger's Manage panel
    await online();
    await page.locator(`#chargers-body tr[data-device="${device}"] [data-manage]`).click();
    const det = page.locator(`#chargers-body tr.detail[data-detail-for="${device}"]`);
    await det.waitFor({ state: 'visible' });
    const jobStatus = (id, status) => page.waitForFunction(([d, j, s]) => document.querySelector(`tr.detail[data-detail-for="${d}"] tr[data-job="${j}"]`)?.dataset.status === s,
      [device, id, status], { timeout: 60000 });

    // a TxDefaultProfile: sent, listed as installed, cleared
    await det.locator('[data-sc-connector]').selectOption('0');
    await det.locator('[data-sc-purpose]').selectOption('TxDefaultProfile');
    await det.locator('[data-sc-kind]').selectOption('Absolute');
    await det.locator('[data-sc-unit]').selectOption('A');
    await det.locator('[data-sc-stack]').fill('2');
    await det.locator('[data-period-limit]').first().fill('16');
    await det.locator('[data-sc-add-period]').click();
    await det.locator('[data-period-limit]').nth(1).fill('10');
    await det.locator('[data-sc-send]').click();
    const sent = await success(`tr.detail[data-detail-for="${device}"] [data-sc-message]`);
    const profileId = /^Profile #(\d+) \(TxDefaultProfile\) installed\.$/.exec(sent)?.[1];
    assert.ok(profileId, sent);
    const profileRow = det.locator(`tr[data-profile-id="${profileId}"]`);
    await profileRow.waitFor({ state: 'visible' });
    assert.equal(await profileRow.getAttribute('data-status'), 'installed');
    assert.match((await profileRow.textContent()).replace(/\s+/g, ' '), /TxDefaultProfile\s*stack 2 · operator.*0s: 16 A, 900s: 10 A/);
    await det.locator('[data-cs-get]').click();
    await page.waitForFunction((d) => /Accepted|Rejected/.test(document.querySelector(`tr.detail[data-detail-for="${d}"] [data-cs-result]`)?.textContent || ''), device, { timeout: 40000 });
    await shot(page, 'admin-smart-charging.png');
    await profileRow.locator('[data-sc-clear]').click();
    assert.equal(await success(`tr.detail[data-detail-for="${device}"] [data-sc-message]`), `ClearChargingProfile #${profileId}: Accepted.`);
    await profileRow.waitFor({ state: 'detached' });

    // local list: Sync brings the charger in step
    await det.locator('[data-ll-sync]').click();
    const synced = await success(`tr.detail[data-detail-for="${device}"] [data-ll-message]`);
    assert.match(synced, /^(Already in sync \(version \d+\)|SendLocalList (Full|Differential) version \d+ \(\d+ entries\): Accepted)\.$/);
    await page.waitForFunction((d) => document.querySelector(`tr.detail[data-detail-for="${d}"] [data-local-list]`)?.dataset.inSync === 'true', device);
    assert.equal((await det.locator('[data-testid="local-list-sync"]').textContent()).trim(), 'In sync');
    await det.locator('[data-ll-full]').click();
    assert.match(await success(`tr.detail[data-detail-for="${device}"] [data-ll-message]`), /^SendLocalList Full version \d+ \(\d+ entries\): Accepted\.$/);

    // station power limit: set, shown, removed
    const operator = await apiToken('admin', 'admin@example.com', 'admin');
    const stations = (await callApi('GET', '/api/admin/stations', { token: operator })).data.stations;
    const station = stations.find((s) => s.name === 'Demo Station');
    assert.ok(station, JSON.stringify(stations));
    const loadRow = page.locator(`#loads-body tr[data-station-load="${station.id}"]`);
    await loadRow.waitFor({ state: 'visible' });
    await loadRow.locator('[data-limit-input]').fill('11000');
    await loadRow.locator('[data-limit-set]').click();
    assert.equal(await success('#loads-message'), 'Power limit of Demo Station set to 11 kW.');
    await page.waitForFunction((id) => document.querySelector(`#loads-body tr[data-station-load="${id}"]`)?.dataset.maxPowerW === '11000', station.id);
    assert.equal((await loadRow.locator('[data-testid="power-limit"]').textContent()).trim(), '11 kW');
    const load = (await callApi('GET', `/api/admin/stations/${station.id}/load`, { token: operator })).data.load;
    assert.equal(load.maxPowerW, 11000);
    await loadRow.scrollIntoViewIfNeeded();
    await shot(page, 'admin-power-limit.png');
    await loadRow.locator('[data-limit-remove]').click();
    assert.equal(await success('#loads-message'), 'Power limit of Demo Station removed.');
    await page.waitForFunction((id) => document.querySelector(`#loads-body tr[data-station-load="${id}"]`)?.dataset.maxPowerW === '', station.id);
    assert.equal((await loadRow.locator('[data-testid="power-limit"]').textContent()).trim(), 'no limit');

    // diagnostics: the charger uploads a file to csms; the console downloads it with the token
    await det.locator('[data-diagnostics]').click();
    const diagSent = await success(`tr.detail[data-detail-for="${device}"] [data-fw-message]`);
    const diagJob = /^GetDiagnostics sent: job #(\d+) /.exec(diagSent)?.[1];
    assert.ok(diagJob, diagSent);
    await jobStatus(diagJob, 'Uploaded');
    const fileButton = det.locator(`tr[data-job="${diagJob}"] [data-job-file]`);
    await fileButton.waitFor({ state: 'visible' });
    const [dl] = await Promise.all([page.waitForEvent('download'), fileButton.click()]);
    assert.equal(dl.suggestedFilename(), await fileButton.getAttribute('data-file-name'));
    assert.equal(fs.readFileSync(await dl.path(), 'utf8'), `diagnostics of ${device}\n`);

    // upload a firmware image: its name is the file's
    const file = path.join(tmpDir, 'e2e-firmware.bin');
    fs.writeFileSync(file, crypto.randomBytes(4096));
    await page.locator('#firmware-file').setInputFiles(file);
    await page.locator('#firmware-version').fill('e2e-2.0.0');
    await page.locator('#firmware-btn').click();
    const uploaded = await success('#firmware-message');
    const imageId = /^Image #(\d+) e2e-firmware\.bin \(version e2e-2\.0\.0, 4\.0 KiB\) uploaded\.$/.exec(uploaded)?.[1];
    assert.ok(imageId, uploaded);
    const imageRow = page.locator(`#firmware-body tr[data-image="${imageId}"]`);
    await imageRow.waitFor({ state: 'visible' });
    assert.match((await imageRow.textContent()).replace(/\s+/g, ' '), /e2e-firmware\.bin e2e-2\.0\.0 4\.0 KiB/);

    // update the charger: the simulator downloads the image from csms, installs it and reboots (last:
    // csms demo then replaces the rebooted simulator with a fresh one, which forgets its profiles)
    await page.waitForFunction(([d, i]) => [...document.querySelector(`tr.detail[data-detail-for="${d}"] [data-fw-image]`).options].some((o) => o.value === i), [device, imageId]);
    await det.locator('[data-fw-image]').selectOption(imageId);
    await det.locator('[data-fw-update]').click();
    const fwSent = await success(`tr.detail[data-detail-for="${device}"] [data-fw-message]`);
    const fwJob = /^UpdateFirmware sent: job #(\d+) /.exec(fwSent)?.[1];
    assert.ok(fwJob, fwSent);
    await jobStatus(fwJob, 'Installed');
    const fwRow = det.locator(`tr[data-job="${fwJob}"]`);
    const fwText = (await fwRow.textContent()).replace(/\s+/g, ' ');
    for (const s of ['Requested', 'Downloading', 'Downloaded', 'Installing', 'Installed', 'e2e-firmware.bin · e2e-2.0.0']) assert.ok(fwText.includes(s), `${s} in "${fwText}"`);
    // the simulator reports the image's version after the update (not "installed")
    await page.waitForFunction((d) => /fw e2e-2\.0\.0/.test(document.querySelector(`#chargers-body tr[data-device="${d}"] [data-cell="hardware"]`)?.textContent || ''), device, { timeout: 30000 });
    await shot(page, 'admin-firmware.png');

    assertNoPageErrors(['maintenance']);
  });
});

// ------------------------------------------------------------------ what a new user met in the demo

test('busy chargers: status sums up the connectors, last seen stays fresh, load without a limit, customer panel after a stop', async () => {
  let admin;
  let customer;
  await capturing('busy', () => ({ admin, customer }), async () => {
    const device = 'DEVAFGKV1UW';
    customer = await newPage('busy-customer');
    await customerLogin(customer, 'customer1@example.com');
    // the wallet's lines: a sign and words, whole lines
    const lines = (await customer.locator('[data-testid="wallet-line"] .t').allTextContents()).map((l) => l.trim());
    assert.ok(lines.every((l) => /^[+−]₹\d+\.\d{2} (top-up|charging \(prepaid\)|refund of unused prepayment|adjustment|charging \(beyond the prepayment\))$/.test(l)), lines.join(' | '));
    assert.ok(lines.some((l) => l.startsWith('+')) && lines.some((l) => l.startsWith('−')), lines.join(' | '));
    const cut = await customer.locator('#wallet-history .d').evaluateAll((els) => els.filter((e) => getComputedStyle(e).textOverflow === 'ellipsis' || e.scrollWidth > e.clientWidth + 1).length);
    assert.equal(cut, 0, 'no wallet line is cut off');

    // customer1 charges on connector 1 in the panel; customer2 on DEVDEMO2 over the API
    await waitConnectorChip(customer, device, 1, 'Available');
    await prepareStart(customer, device, 1, 10);
    await customer.locator('#start-btn').click();
    assert.deepEqual(await startOutcome(customer), { kind: 'success', text: STARTED });
    const other = await apiToken('customer', 'customer2@example.com', PASSWORD);
    const started = await callApi('POST', '/api/user/charging/start', { token: other, body: { deviceId: 'DEVDEMO2', connectorId: 1, amount: 10 } });
    assert.equal(started.status, 200, JSON.stringify(started.data));
    await waitSessionStatus(customer, 'active');

    admin = await newPage('busy-admin');
    await adminLogin(admin);
    const row = admin.locator(`#chargers-body tr[data-device="${device}"]`);
    await admin.waitForFunction((d) => document.querySelector(`#chargers-body tr[data-device="${d}"] [data-testid="charger-status"]`)?.textContent.trim() === 'Charging (1 of 2)', device, { timeout: 20000 });

    // last seen follows every frame (meter values every 5 s; the heartbeat interval is 300 s)
    const operator = await apiToken('admin', 'admin@example.com', 'admin');
    for (let i = 0; i < 8; i++) {
      const ch = (await callApi('GET', `/api/admin/chargers/${device}`, { token: operator })).data.charger;
      const age = (Date.now() - new Date(ch.lastSeen).getTime()) / 1000;
      assert.ok(age <= 12, `lastSeen ${ch.lastSeen} is ${age} s old (heartbeat ${ch.lastHeartbeat})`);
      await sleep(2500);
    }
    assert.match(await row.locator('[data-testid="last-seen"]').textContent(), /^\s*(just now|\d+ s ago)\s*$/);

    // no power limit: the load table says what is in use rather than "0 kW"
    const stations = (await callApi('GET', '/api/admin/stations', { token: operator })).data.stations;
    const station = stations.find((s) => s.name === 'Demo Station');
    const allocated = admin.locator(`#loads-body tr[data-station-load="${station.id}"] [data-testid="allocated"]`);
    await admin.waitForFunction((id) => /^no limit: [\d.]+ kW in use$/.test(document.querySelector(`#loads-body tr[data-station-load="${id}"] [data-testid="allocated"]`)?.textContent.trim() || ''), station.id, { timeout: 20000 });
    const inUse = Number(/([\d.]+) kW/.exec(await allocated.textContent())[1]);
    assert.ok(inUse > 0 && inUse <= 25, `${inUse} kW in use by two 11 kW sessions`);
    // The load table is rebuilt every few seconds: a refresh can replace the row between finding
    // it and scrolling to it ("not attached to the DOM"), so scroll to the new one.
    for (let attempt = 1; ; attempt++) {
      try {
        await allocated.scrollIntoViewIfNeeded({ timeout: 5000 });
        break;
      } catch (e) {
        if (attempt >= 5) throw e;
      }
    }
    await shot(admin, 'busy-load.png');

    // the reservations menu counts what the list shows
    await admin.waitForFunction(() => document.querySelectorAll('#reservations-body tr[data-reservation]').length > 0);
    await admin.waitForFunction(() => document.getElementById('count-reservations').textContent.trim()
      === String(document.querySelectorAll('#reservations-body tr[data-reservation]').length));

    // the operator reserves connector 2 for a demo customer's own idTag, then cancels it
    await admin.locator('#reservation-device').selectOption(device);
    await admin.locator('#reservation-connector').selectOption('2');
    await admin.locator('#reservation-idtag').selectOption('DEMOCUST2');
    await admin.locator('#reservation-btn').click();
    await admin.waitForFunction(() => /success|error/.test(document.getElementById('reservation-message').className), null, { timeout: 40000 });
    const reserved = (await admin.locator('#reservation-message').textContent()).trim();
    assert.match(reserved, new RegExp(`${device} connector 2 held for DEMOCUST2 until `));
    const id = /^Reservation #(\d+): /.exec(reserved)[1];
    const resRow = admin.locator(`#reservations-body tr[data-reservation="${id}"]`);
    await resRow.waitFor({ state: 'visible' });
    await resRow.locator('[data-cancel-reservation]').click();
    await admin.waitForFunction((i) => document.querySelector(`#reservations-body tr[data-reservation="${i}"]`)?.dataset.status === 'cancelled', id);

    // the customer stops: who stopped it, in words; the start message goes; the card goes below Start
    await customer.locator('#stop-btn').click();
    await waitSessionStatus(customer, 'completed');
    assert.match(await text(customer, '#session-note'), /^Charging stopped by you\. .*refunded to your wallet\.$/);
    await customer.waitForFunction(() => document.getElementById('message').textContent.trim() === '');
    assert.ok(await customer.evaluate(() => Boolean(document.getElementById('start-card').compareDocumentPosition(document.getElementById('session-card')) & Node.DOCUMENT_POSITION_FOLLOWING)),
      'a finished session\'s card is below Start');
    const theirs = (await callApi('GET', '/api/user/charging/sessions', { token: other })).data.sessions.find((x) => x.deviceId === 'DEVDEMO2' && ['pending', 'active'].includes(x.status));
    if (theirs) await callApi('POST', '/api/user/charging/stop', { token: other, body: { sessionId: theirs.sessionId } });
    await admin.waitForFunction((d) => document.querySelector(`#chargers-body tr[data-device="${d}"] [data-testid="charger-status"]`)?.textContent.trim() === 'Available', device, { timeout: 30000 });
    await shot(customer, 'busy-customer-stopped.png', { fullPage: true });
    assertNoPageErrors(['busy-customer', 'busy-admin']);
  });
});

/** Elements that stick out to the right of a `width` px page (not counting what scrolls inside its own box). */
function overflowing(page, width) {
  return page.evaluate((w) => {
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right <= w + 0.5 || r.width === 0) continue;
      let q = el.parentElement;
      let scrolls = false;
      while (q && q !== document.body) {
        if (getComputedStyle(q).overflowX !== 'visible') { scrolls = true; break; }
        q = q.parentElement;
      }
      if (!scrolls) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${String(el.className).split(' ').join('.')} → ${Math.round(r.right)} px`);
    }
    return out.slice(0, 10).join(', ');
  }, width);
}

test('390 px wide: no horizontal overflow, Start above the fold after a reload, the console fits', async () => {
  const PHONE = { width: 390, height: 844 };
  let customer;
  let admin;
  await capturing('phone', () => ({ customer, admin }), async () => {
    customer = await newPage('phone-customer', PHONE);
    await customerLogin(customer, 'customer1@example.com'); // a fresh page: a reload
    await customer.waitForTimeout(500);
    const layout = await customer.evaluate(() => {
      const start = document.getElementById('start-btn').getBoundingClientRect();
      const card = document.getElementById('session-card');
      return {
        scrollWidth: document.documentElement.scrollWidth,
        startTop: start.top,
        startBottom: start.bottom,
        cardShown: !card.hidden,
        cardFinished: ['completed', 'failed'].includes(card.dataset.status),
        cardBelowStart: Boolean(document.getElementById('start-card').compareDocumentPosition(card) & Node.DOCUMENT_POSITION_FOLLOWING),
      };
    });
    assert.ok(layout.scrollWidth <= 390, `customer panel is ${layout.scrollWidth} px wide: ${await overflowing(customer, 390)}`);
    assert.ok(layout.startTop >= 0 && layout.startBottom <= PHONE.height, `Start at ${layout.startTop}–${layout.startBottom} px: not on the first screen (${PHONE.height} px)`);
    if (layout.cardShown && layout.cardFinished) assert.ok(layout.cardBelowStart, 'the finished session is below Start');
    await shot(customer, 'phone-customer.png', { fullPage: true });

    admin = await newPage('phone-admin', PHONE);
    await adminLogin(admin);
    await admin.locator('#chargers-body tr[data-device="DEVAFGKV1UW"]').waitFor({ state: 'visible' });
    await admin.locator('#chargers-body tr[data-device="DEVAFGKV1UW"] [data-manage]').click();
    await admin.locator('#chargers-body tr.detail[data-detail-for="DEVAFGKV1UW"]').waitFor({ state: 'visible' });
    await admin.waitForTimeout(500);
    const width = await admin.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `console is ${width} px wide: ${await overflowing(admin, 390)}`);
    await shot(admin, 'phone-console.png', { fullPage: true });
    assertNoPageErrors(['phone-customer', 'phone-admin']);
  });
});
