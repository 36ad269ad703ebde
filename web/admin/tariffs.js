// csms operator console: tariffs.

import { $, api, fillSelect, fmt, handleAuthError, state, tariffOptions } from './core.js';
import { renderStations } from './stations.js';

const { busy, esc, setMessage } = CSMS;

export async function loadTariffs() {
  try {
    const data = await api('/api/admin/tariffs');
    state.tariffs = data.tariffs || [];
    renderTariffs();
  } catch (e) {
    handleAuthError(e);
  }
}

export function renderTariffs() {
  const list = state.tariffs;
  $('count-tariffs').textContent = list.length;
  const body = $('tariffs-body');
  const html = list.length ? list.map((t) => {
    const st = state.stations.filter((s) => s.tariffId === t.id).map((s) => s.name);
    const ch = state.chargers.filter((c) => c.tariffId === t.id).map((c) => c.deviceId);
    const used = [...st.map((n) => 'station ' + n), ...ch.map((d) => 'charger ' + d)];
    return `<tr data-tariff="${t.id}"><td class="muted">${t.id}</td><td class="fw-600">${esc(t.name)}</td>
      <td class="right num fw-650">${esc(fmt(t.pricePerKwh))}</td>
      <td class="small muted">${used.length ? esc(used.join(', ')) : '—'}</td></tr>`;
  }).join('') : '<tr><td colspan="4" class="empty">No tariffs yet. Chargers use the default price.</td></tr>';
  if (body.dataset.html !== html) { body.innerHTML = html; body.dataset.html = html; }
  for (const sel of document.querySelectorAll('select[data-tariff-select]')) fillSelect(sel, tariffOptions(null, 'None'));
  renderStations();
}

$('tariff-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('tariff-message');
  setMessage(msg, '');
  const body = { name: $('tariff-name').value.trim(), pricePerKwh: $('tariff-price').value.trim() };
  await busy($('tariff-btn'), 'Creating…', async () => {
    try {
      const data = await api('/api/admin/tariffs', { method: 'POST', body });
      setMessage(msg, `Tariff “${data.tariff.name}” created at ${fmt(data.tariff.pricePerKwh)}/kWh.`, 'success');
      $('tariff-form').reset();
      await loadTariffs();
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
});
