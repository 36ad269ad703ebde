// csms — operator console, the entry module: sign in and out, the refresh timers, the side menu.
// Each console section is a module of its own under /admin/ (ES modules, no build step):
//   core.js            state, API calls with the operator's token, lookups, DOM helpers
//   chargers.js        the chargers table (live) and the Manage row
//   commands.js        OCPP commands and a charger's security settings
//   messages.js        a charger's OCPP message log
//   maintenance.js     firmware updates and diagnostics jobs
//   security.js        certificates, security logs and security events
//   smart-charging.js  charging profiles and the composite schedule
//   local-list.js      the Local Authorization List
//   firmware.js        firmware images csms hosts
//   stations.js        stations and charger registration
//   loads.js           station power limits and the live load
//   tariffs.js, customers.js, tokens.js, reservations.js, sessions.js, write-offs.js
// The shared helpers of /api.js (a classic script loaded first) are the global CSMS.

import { $, CHARGERS_MS, SESSIONS_MS, TOKEN_KEY, onAuthLost, state } from './admin/core.js';
import { loadChargers } from './admin/chargers.js';
import './admin/commands.js';
import { loadCustomers } from './admin/customers.js';
import { loadImages } from './admin/firmware.js';
import { refreshOpenPanels } from './admin/maintenance.js';
import { loadLoads } from './admin/loads.js';
import { refreshOpenLogs } from './admin/messages.js';
import { loadReservations } from './admin/reservations.js';
import './admin/secrets.js';
import { loadSessions } from './admin/sessions.js';
import { loadStations } from './admin/stations.js';
import { loadTariffs } from './admin/tariffs.js';
import { loadTokens } from './admin/tokens.js';
import { loadWriteOffs } from './admin/write-offs.js';

const { request, busy, setMessage } = CSMS;

// ---------------------------------------------------------------- sign in / out

function showLogin(message) {
  $('console-view').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  if (message) setMessage($('admin-login-message'), message, 'error');
}

$('admin-login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('admin-login-message');
  setMessage(msg, '');
  await busy($('admin-login-btn'), 'Signing in…', async () => {
    try {
      const data = await request('/api/admin/login', {
        method: 'POST',
        body: { email: $('admin-email').value.trim(), password: $('admin-password').value },
      });
      state.token = data.token;
      localStorage.setItem(TOKEN_KEY, data.token);
      if (data.operator) localStorage.setItem(TOKEN_KEY + '.who', data.operator.email || data.operator.name || '');
      $('admin-password').value = '';
      startConsole();
    } catch (e) {
      setMessage(msg, e.message, 'error');
    }
  });
});

function logout(message) {
  for (const t of state.timers) clearInterval(t);
  state.timers = [];
  state.token = null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(TOKEN_KEY + '.who');
  $('chargers-body').innerHTML = '<tr class="placeholder"><td colspan="7" class="empty">Loading chargers…</td></tr>';
  state.open.clear();
  state.logs.clear();
  state.jobs.clear();
  state.loads.clear();
  $('loads-body').innerHTML = '<tr class="placeholder"><td colspan="5" class="empty">No stations yet.</td></tr>';
  state.closing = null;
  $('close-form').hidden = true;
  showLogin(message);
}
$('logout-btn').addEventListener('click', () => logout());

async function startConsole() {
  $('login-view').hidden = true;
  $('console-view').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = localStorage.getItem(TOKEN_KEY + '.who') || 'Operator';
  await loadTariffs();
  await Promise.allSettled([loadStations(), loadCustomers()]);
  await loadChargers();
  await Promise.allSettled([loadTokens(), loadReservations(), loadSessions(), loadWriteOffs(), loadImages(), loadLoads()]);
  let n = 0;
  state.timers.push(setInterval(() => {
    if (document.hidden) return;
    loadChargers();
    refreshOpenLogs();
    refreshOpenPanels();
    loadLoads();
  }, CHARGERS_MS));
  state.timers.push(setInterval(() => {
    if (document.hidden) return;
    loadSessions();
    loadReservations();
    if (++n % 3 === 0) { loadCustomers(); loadStations(); loadTariffs(); loadTokens(); loadWriteOffs(); loadImages(); }
  }, SESSIONS_MS));
}

onAuthLost(logout);

// ---------------------------------------------------------------- nav highlight

const links = [...document.querySelectorAll('#sidenav a')];
const observer = 'IntersectionObserver' in window ? new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (e.isIntersecting) {
      for (const a of links) a.classList.toggle('active', a.getAttribute('href') === '#' + e.target.id);
    }
  }
}, { rootMargin: '-80px 0px -60% 0px' }) : null;
if (observer) for (const a of links) { const s = document.querySelector(a.getAttribute('href')); if (s) observer.observe(s); }

// ---------------------------------------------------------------- boot

if (state.token) startConsole();
else showLogin();
