// csms operator console: write-offs.

import { $, api, customerById, fmt, handleAuthError, setCurrency, state } from './core.js';

const { dateTime, esc, kwh } = CSMS;

const WRITE_OFFS_LIMIT = 200;

export async function loadWriteOffs() {
  try {
    const data = await api(`/api/admin/write-offs?limit=${WRITE_OFFS_LIMIT}`);
    setCurrency(data.currency);
    state.writeOffs = data.writeOffs || [];
    renderWriteOffs();
  } catch (e) {
    if (!handleAuthError(e)) $('write-offs-body').innerHTML = `<tr><td colspan="8"><div class="message error">${esc(e.message)}</div></td></tr>`;
  }
}

function renderWriteOffs() {
  const list = state.writeOffs;
  $('count-write-offs').textContent = list.length;
  // in minor units, so that the sum is exact
  const total = list.reduce((a, w) => a + Math.round((Number(w.amount) || 0) * 100), 0) / 100;
  const energy = list.reduce((a, w) => a + (Number(w.energyKwh) || 0), 0);
  $('write-offs-total').textContent = `Total ${fmt(total)} · ${kwh(energy)} kWh${list.length >= WRITE_OFFS_LIMIT ? ` (latest ${WRITE_OFFS_LIMIT})` : ''}`;
  const html = list.length ? list.map((w) => {
    const c = w.customerId ? customerById(w.customerId) : null;
    const who = c ? `<div class="fw-600">${esc(c.name)}</div><div class="dev-sub">${esc(c.email)}</div>`
      : `<span class="muted">${w.customerId ? '#' + esc(w.customerId) : 'no wallet'}</span>`;
    return `<tr data-write-off="${esc(w.id)}">
      <td class="muted">${esc(w.id)}</td>
      <td class="nowrap" title="${esc(w.createdAt)}">${esc(dateTime(w.createdAt))}</td>
      <td><div class="dev-id">${esc(w.deviceId)}</div><div class="dev-sub">#${esc(w.connectorId)}${w.transactionId ? ' · tx ' + esc(w.transactionId) : ''}</div></td>
      <td>${w.sessionId ? `<span class="mono" title="${esc(w.sessionId)}">${esc(String(w.sessionId).slice(0, 13))}…</span>` : '<span class="muted">—</span>'}</td>
      <td>${who}</td>
      <td class="right num">${esc(kwh(w.energyKwh))}</td>
      <td class="right num fw-650">${esc(fmt(w.amount))}</td>
      <td class="small">${esc(w.reason)}</td>
    </tr>`;
  }).join('') : '<tr><td colspan="8" class="empty">No write-offs: every kWh delivered so far has been billed.</td></tr>';
  const body = $('write-offs-body');
  if (body.dataset.html !== html) { body.innerHTML = html; body.dataset.html = html; }
}
