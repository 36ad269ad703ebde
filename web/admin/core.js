// csms operator console — what every section shares: the console's state, the API call with the
// operator's token, lookups across sections, and small DOM helpers. The helpers of /api.js (loaded
// before the modules, as a classic script) are the global CSMS.

const { request, money, currencySymbol, esc, parseTime } = CSMS;

export const TOKEN_KEY = 'csms.adminToken';
export const CHARGERS_MS = 3000;
export const SESSIONS_MS = 5000;
export const OPEN_STATUSES = ['pending', 'active', 'stopping'];

export const $ = (id) => document.getElementById(id);

export const state = {
  token: localStorage.getItem(TOKEN_KEY),
  chargers: [],
  stations: [],
  tariffs: [],
  customers: [],
  sessions: [],
  tokens: [],
  reservations: [],
  writeOffs: [],
  // the system default until an answer reports the currency (customers, sessions, write-offs do)
  currency: 'INR',
  closing: null, // id of the session whose close form is open
  open: new Set(), // device ids whose detail row is open
  logs: new Map(), // deviceId -> {lastKey, openIds:Set}
  timers: [],
  lastChargersOk: 0,
  images: [], // hosted firmware images
  jobs: new Map(), // deviceId -> maintenance jobs (firmware, diagnostics)
  loads: new Map(), // stationId -> {maxPowerW, allocatedW, transactions}
};

export const fmt = (v) => money(v, state.currency);

/** A JSON API call with the operator's token (see CSMS.request). */
export const api = (path, opts = {}) => request(path, { token: state.token, ...opts });

export function setCurrency(code) {
  if (!code || code === state.currency) return;
  state.currency = code;
  for (const el of document.querySelectorAll('.cur-sym')) el.textContent = currencySymbol(code).trim();
}

let authLost = () => {};

/** What a 401/403 does (the entry module signs the operator out). */
export function onAuthLost(fn) {
  authLost = fn;
}

/** A 401/403 with a token: signs out with the server's words and returns true. */
export function handleAuthError(e) {
  if (e && (e.status === 401 || e.status === 403) && state.token) {
    authLost(e.message);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- lookups

export const stationName = (id) => (state.stations.find((s) => s.id === id) || {}).name;
export const tariffById = (id) => state.tariffs.find((t) => t.id === id);
export const tariffLabel = (id) => {
  const t = tariffById(id);
  return t ? `${t.name} · ${fmt(t.pricePerKwh)}/kWh` : (id ? `#${id}` : '');
};
export const customerById = (id) => state.customers.find((c) => c.id === id);

export function tariffOptions(selected, noneLabel = 'No tariff') {
  return `<option value="">${esc(noneLabel)}</option>` + state.tariffs.map((t) =>
    `<option value="${t.id}"${t.id === selected ? ' selected' : ''}>${esc(t.name)} — ${esc(fmt(t.pricePerKwh))}/kWh</option>`).join('');
}

/** A customer for a table cell: name and email, or their id when not loaded. */
export function customerCell(id) {
  if (id === null || id === undefined) return '<span class="muted">—</span>';
  const c = customerById(id);
  return c ? `<div class="fw-600">${esc(c.name)}</div><div class="dev-sub">${esc(c.email)}</div>` : `<span class="muted">#${esc(id)}</span>`;
}

// ---------------------------------------------------------------- DOM helpers

/** Refills a <select> only when its options would change, keeping the current choice. */
export function fillSelect(sel, html) {
  if (sel.dataset.html === html) return;
  const v = sel.value;
  sel.innerHTML = html;
  sel.dataset.html = html;
  if ([...sel.options].some((o) => o.value === v)) sel.value = v;
}

/** Sets innerHTML only when it changed (so focus, selection and open <details> survive a refresh). */
export const setHtml = (el, html) => { if (el && el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; } };

/** The detail (Manage) row of a charger, if open. */
export const detailOf = (deviceId) => $('chargers-body').querySelector(`tr.detail[data-detail-for="${CSS.escape(deviceId)}"]`);

// ---------------------------------------------------------------- formats

/** Watts → "11 kW", "7.4 kW". */
export const kw = (w) => (w === null || w === undefined ? '—' : (Number(w) / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 }) + ' kW');

export const bytes = (n) => {
  const v = Number(n);
  if (!Number.isFinite(v)) return '—';
  if (v < 1024) return v + ' B';
  if (v < 1024 * 1024) return (v / 1024).toFixed(1) + ' KiB';
  return (v / 1024 / 1024).toFixed(1) + ' MiB';
};

/** "in 14 min", "in 2 h 5 min"; changes once a minute, so a refresh does not redraw the table every time. */
export function timeLeft(t) {
  const d = parseTime(t);
  if (!d) return '';
  const min = Math.ceil((d.getTime() - Date.now()) / 60000);
  if (min <= 0) return 'due now';
  return min < 60 ? `in ${min} min` : `in ${Math.floor(min / 60)} h ${min % 60} min`;
}
