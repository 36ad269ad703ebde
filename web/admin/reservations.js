// csms operator console: reservations.

import { $, api, customerCell, fillSelect, handleAuthError, state, timeLeft } from './core.js';
import { connectorOptions, loadChargers } from './chargers.js';

const { busy, dateTime, esc, setMessage, toast } = CSMS;

const HOLDING = ['pending', 'active'];
const RESERVATION_CHIP = {
  pending: 's-pending', active: 's-reserved', used: 'ok', cancelled: 's-unknown', expired: 's-unknown', refused: 'bad', failed: 'bad',
};

export async function loadReservations() {
  const p = new URLSearchParams();
  const status = $('rfilter-status').value;
  const device = $('rfilter-device').value;
  if (status) p.set('status', status);
  if (device) p.set('deviceId', device);
  p.set('limit', '200');
  try {
    const data = await api('/api/admin/reservations?' + p.toString());
    state.reservations = data.reservations || [];
    renderReservations();
  } catch (e) {
    if (!handleAuthError(e)) $('reservations-body').innerHTML = `<tr><td colspan="8"><div class="message error">${esc(e.message)}</div></td></tr>`;
  }
}

function renderReservations() {
  const list = state.reservations;
  // the menu counts what the list shows (its filters apply); how many hold a connector is its title
  const holdingNow = list.filter((r) => HOLDING.includes(r.status)).length;
  const count = $('count-reservations');
  count.textContent = list.length;
  count.title = `${holdingNow} holding a connector now`;
  const html = list.length ? list.map((r) => {
    const holding = HOLDING.includes(r.status);
    const who = r.customerId !== null && r.customerId !== undefined
      ? `${customerCell(r.customerId)}<div class="dev-sub">customer · one-time tag <span class="mono">${esc(r.idTag)}</span></div>`
      : `<div class="mono fw-600 nowrap">${esc(r.idTag)}</div><div class="dev-sub">token${r.parentIdTag ? ' · group <span class="mono">' + esc(r.parentIdTag) + '</span>' : ''}</div>`;
    return `<tr data-reservation="${esc(r.id)}" data-status="${esc(r.status)}" data-device="${esc(r.deviceId)}">
      <td class="muted">${esc(r.id)}</td>
      <td><span class="chip ${RESERVATION_CHIP[r.status] || 's-unknown'}" data-testid="reservation-status">${esc(r.status)}</span>${r.answer ? `<div class="dev-sub text-danger">${esc(r.answer)}</div>` : ''}</td>
      <td><div class="dev-id">${esc(r.deviceId)}</div><div class="dev-sub">${r.connectorId === 0 ? 'whole charger' : 'connector ' + esc(r.connectorId)}</div></td>
      <td>${who}</td>
      <td class="nowrap" title="${esc(r.expiresAt)}">${esc(dateTime(r.expiresAt))}${holding ? `<div class="dev-sub">${esc(timeLeft(r.expiresAt))}</div>` : ''}</td>
      <td class="nowrap" title="${esc(r.createdAt)}">${esc(dateTime(r.createdAt))}</td>
      <td>${r.sessionId ? `<span class="mono" title="${esc(r.sessionId)}">${esc(String(r.sessionId).slice(0, 13))}…</span>` : '<span class="muted">—</span>'}</td>
      <td class="right">${holding ? `<button type="button" class="btn-sm btn-danger" data-cancel-reservation="${esc(r.id)}">Cancel</button>` : ''}</td>
    </tr>`;
  }).join('') : '<tr><td colspan="8" class="empty">No reservations match these filters.</td></tr>';
  const body = $('reservations-body');
  if (body.dataset.html !== html) { body.innerHTML = html; body.dataset.html = html; }
}

/** The connector menu of the reservation form follows its charger menu. */
export function syncReservationConnectors() {
  const ch = state.chargers.find((c) => c.deviceId === $('reservation-device').value);
  fillSelect($('reservation-connector'), ch ? connectorOptions(ch, true) : '<option value="1">Connector 1</option>');
  const sel = $('reservation-connector');
  if (!sel.dataset.touched && sel.value === '0' && sel.options.length > 1) sel.value = sel.options[1].value;
}

$('reservation-device').addEventListener('change', () => {
  delete $('reservation-connector').dataset.touched;
  syncReservationConnectors();
});
$('reservation-connector').addEventListener('change', (ev) => { ev.target.dataset.touched = '1'; });

$('reservation-filters').addEventListener('change', loadReservations);
$('reservation-filters').addEventListener('submit', (ev) => { ev.preventDefault(); loadReservations(); });

$('reservation-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('reservation-message');
  setMessage(msg, '');
  const idTag = $('reservation-idtag').value;
  const deviceId = $('reservation-device').value;
  if (!deviceId || !idTag) {
    setMessage(msg, !deviceId ? 'Choose a charger.' : 'Choose a token (create one in Tokens first).', 'error');
    return;
  }
  const body = { deviceId, connectorId: Number($('reservation-connector').value), idTag, minutes: Number($('reservation-minutes').value) };
  const parent = $('reservation-parent').value.trim();
  if (parent) body.parentIdTag = parent;
  await busy($('reservation-btn'), 'Reserving…', async () => {
    try {
      const data = await api('/api/admin/reservations', { method: 'POST', body });
      const r = data.reservation;
      const what = r.connectorId === 0 ? 'the whole charger' : 'connector ' + r.connectorId;
      setMessage(msg, `Reservation #${r.id}: ${r.deviceId} ${what} held for ${r.idTag} until ${dateTime(r.expiresAt)}.`, 'success');
      $('reservation-parent').value = '';
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
  loadReservations();
  loadChargers();
});

$('reservations-body').addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-cancel-reservation]');
  if (!b) return;
  const id = b.dataset.cancelReservation;
  const msg = $('reservations-list-message');
  setMessage(msg, '');
  await busy(b, '', async () => {
    try {
      const data = await api('/api/admin/reservations/' + encodeURIComponent(id), { method: 'DELETE' });
      toast(`Reservation #${id} ${data.reservation ? data.reservation.status : 'cancelled'}`);
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
  loadReservations();
  loadChargers();
});
