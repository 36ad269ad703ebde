// csms operator console: charging sessions and force-close.

import { $, api, customerById, fmt, handleAuthError, OPEN_STATUSES, setCurrency, state } from './core.js';
import { loadChargers } from './chargers.js';
import { loadCustomers } from './customers.js';
import { loadWriteOffs } from './write-offs.js';

const { busy, dateTime, duration, esc, kwh, parseTime, setMessage, statusClass, toast } = CSMS;

export async function loadSessions() {
  const p = new URLSearchParams();
  const status = $('filter-status').value;
  const device = $('filter-device').value;
  const customer = $('filter-customer').value;
  if (status) p.set('status', status);
  if (device) p.set('deviceId', device);
  if (customer) p.set('customerId', customer);
  p.set('limit', $('filter-limit').value);
  try {
    const data = await api('/api/admin/sessions?' + p.toString());
    setCurrency(data.currency);
    state.sessions = data.sessions || [];
    renderSessions();
  } catch (e) {
    if (!handleAuthError(e)) $('sessions-body').innerHTML = `<tr><td colspan="11"><div class="message error">${esc(e.message)}</div></td></tr>`;
  }
  // open sessions across the system, for the stat tile
  if (!status && !device && !customer) {
    $('stat-open').textContent = state.sessions.filter((s) => OPEN_STATUSES.includes(s.status)).length;
  }
}

function renderSessions() {
  const list = state.sessions;
  $('count-sessions').textContent = list.length;
  const html = list.length ? list.map((s) => {
    const c = customerById(s.customerId);
    const who = c ? `<div class="fw-600">${esc(c.name)}</div><div class="dev-sub">${esc(c.email)}</div>`
      : `<div class="muted">${s.customerId ? '#' + esc(s.customerId) : '—'}</div>${s.idTag ? `<div class="dev-sub mono">${esc(s.idTag)}</div>` : ''}`;
    const from = parseTime(s.startedAt);
    const to = parseTime(s.stoppedAt) || (['active', 'stopping'].includes(s.status) ? new Date() : null);
    const reason = s.failureReason || s.stopReason || '';
    const open = OPEN_STATUSES.includes(s.status);
    const closing = state.closing === s.sessionId;
    return `<tr data-session="${esc(s.sessionId)}" data-status="${esc(s.status)}"${closing ? ' class="closing"' : ''}>
      <td><span class="mono" title="${esc(s.sessionId)}">${esc(String(s.sessionId).slice(0, 13))}…</span>
        <div class="dev-sub">${esc(s.origin || '')}${s.transactionId ? ' · tx ' + esc(s.transactionId) : ''}</div></td>
      <td><span class="chip ${statusClass(s.status)}">${esc(s.status)}</span>${open
        ? `<div class="mt-4"><button type="button" class="btn-sm btn-ghost btn-close-session" data-close-session="${esc(s.sessionId)}" aria-controls="close-form" aria-expanded="${closing ? 'true' : 'false'}" title="Close this session (settle it from its last meter reading)">Close…</button></div>` : ''}</td>
      <td>${who}</td>
      <td><div class="dev-id">${esc(s.deviceId)}</div><div class="dev-sub">${esc(s.chargingPointId)} · #${esc(s.connectorId)}</div></td>
      <td class="right num">${esc(fmt(s.amount))}</td>
      <td class="right num">${esc(kwh(s.energyKwh))}</td>
      <td class="right num">${esc(fmt(s.cost))}</td>
      <td class="right num">${s.refund === null || s.refund === undefined ? '—' : esc(fmt(s.refund))}</td>
      <td class="nowrap" title="${esc(s.startedAt || s.createdAt)}">${esc(dateTime(s.startedAt || s.createdAt))}</td>
      <td class="num">${from && to ? esc(duration((to - from) / 1000)) : '—'}</td>
      <td class="small session-note" data-testid="session-note">${reason ? `<div class="${s.failureReason ? 'text-danger' : 'muted'}">${esc(reason)}</div>` : ''}${s.note ? `<div>${esc(s.note)}</div>` : ''}${reason || s.note ? '' : '<span class="muted">—</span>'}</td>
    </tr>`;
  }).join('') : '<tr><td colspan="11" class="empty">No sessions match these filters.</td></tr>';
  const body = $('sessions-body');
  if (body.dataset.html !== html) { body.innerHTML = html; body.dataset.html = html; }
}

$('session-filters').addEventListener('change', loadSessions);
$('session-filters').addEventListener('submit', (ev) => { ev.preventDefault(); loadSessions(); });

// ---------------------------------------------------------------- force-close

function openCloseForm(id) {
  const s = state.sessions.find((x) => x.sessionId === id);
  const form = $('close-form');
  if (form.dataset.session !== id) {
    $('close-reason').value = '';
    setMessage($('close-message'), '');
  }
  state.closing = id;
  form.dataset.session = id;
  $('close-session-id').textContent = id;
  const c = s && customerById(s.customerId);
  $('close-session-info').textContent = s
    ? [s.status, `${s.deviceId} #${s.connectorId}`, c ? c.name : (s.idTag || ''), `prepaid ${fmt(s.amount)}`].filter(Boolean).join(' · ')
    : '';
  form.hidden = false;
  renderSessions();
  form.scrollIntoView({ block: 'nearest' });
  $('close-reason').focus();
}

function hideCloseForm() {
  state.closing = null;
  $('close-form').hidden = true;
  delete $('close-form').dataset.session;
  renderSessions();
}

$('sessions-body').addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-close-session]');
  if (!b) return;
  if (state.closing === b.dataset.closeSession) hideCloseForm();
  else openCloseForm(b.dataset.closeSession);
});

$('close-cancel').addEventListener('click', hideCloseForm);

$('close-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const id = $('close-form').dataset.session;
  if (!id) return;
  const msg = $('close-message');
  setMessage(msg, '');
  let done = false;
  await busy($('close-btn'), 'Closing…', async () => {
    try {
      const data = await api(`/api/admin/sessions/${encodeURIComponent(id)}/close`, { method: 'POST', body: { reason: $('close-reason').value } });
      done = true;
      const i = state.sessions.findIndex((x) => x.sessionId === id);
      if (i >= 0 && data.session) state.sessions[i] = data.session;
      toast(`${data.message || 'Session closed'}: ${data.session ? data.session.status : id}`);
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
  if (!done) return;
  $('close-reason').value = '';
  hideCloseForm();
  // the close settled money and freed a connector
  loadSessions();
  loadCustomers();
  loadWriteOffs();
  loadChargers();
});
