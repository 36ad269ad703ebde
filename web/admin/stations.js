// csms operator console: stations and charger registration.

import { $, api, fillSelect, handleAuthError, state, tariffOptions } from './core.js';
import { loadChargers, syncPasswordInput } from './chargers.js';
import { renderLoads } from './loads.js';
import { hideSecret, showSecret } from './secrets.js';
import { renderTariffs } from './tariffs.js';

const { busy, esc, setMessage, toast } = CSMS;

export async function loadStations() {
  try {
    const data = await api('/api/admin/stations');
    state.stations = data.stations || [];
    renderStations();
  } catch (e) {
    handleAuthError(e);
  }
}

export function renderStations() {
  const list = state.stations;
  $('count-stations').textContent = list.length;
  const body = $('stations-body');
  const html = list.length ? list.map((s) => {
    const n = state.chargers.filter((c) => c.stationId === s.id).length;
    return `<tr data-station="${s.id}">
      <td class="muted">${s.id}</td><td class="fw-600">${esc(s.name)}</td><td class="muted">${esc(s.address || '—')}</td>
      <td>${n}</td>
      <td><select class="sm" data-station-tariff="${s.id}">${tariffOptions(s.tariffId, 'Default price')}</select></td>
    </tr>`;
  }).join('') : '<tr><td colspan="5" class="empty">No stations yet. Create one above.</td></tr>';
  if (body.dataset.html !== html && !body.contains(document.activeElement)) {
    body.innerHTML = html;
    body.dataset.html = html;
  }
  renderLoads();
  fillSelect($('charger-station'), list.length
    ? list.map((s) => `<option value="${s.id}">${esc(s.name)}</option>`).join('')
    : '<option value="">Create a station first</option>');
}

$('stations-body').addEventListener('change', async (ev) => {
  const sel = ev.target.closest('[data-station-tariff]');
  if (!sel) return;
  const id = sel.dataset.stationTariff;
  sel.disabled = true;
  try {
    await api(`/api/admin/stations/${id}/tariff`, { method: 'PUT', body: { tariffId: sel.value ? Number(sel.value) : null } });
    toast('Station tariff updated');
  } catch (e) {
    if (!handleAuthError(e)) toast(e.message, 'error');
  } finally {
    sel.disabled = false;
    sel.blur();
    await loadStations();
    renderTariffs();
  }
});

$('station-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('station-message');
  setMessage(msg, '');
  const body = { name: $('station-name').value.trim() };
  const addr = $('station-address').value.trim();
  if (addr) body.address = addr;
  const t = $('station-tariff').value;
  if (t) body.tariffId = Number(t);
  await busy($('station-btn'), 'Creating…', async () => {
    try {
      const data = await api('/api/admin/stations', { method: 'POST', body });
      setMessage(msg, `Station “${data.station.name}” created.`, 'success');
      $('station-form').reset();
      await loadStations();
      $('charger-station').value = String(data.station.id);
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
});

$('charger-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('charger-message');
  setMessage(msg, '');
  const body = { deviceId: $('charger-device').value.trim() };
  const st = $('charger-station').value;
  if (st) body.stationId = Number(st);
  const cp = $('charger-cp').value.trim();
  if (cp) body.chargingPointId = cp;
  const name = $('charger-name').value.trim();
  if (name) body.name = name;
  // always explicit: profile 0 (no authentication) only when the operator chose it
  body.securityProfile = Number($('charger-profile').value);
  const pw = $('charger-password').value;
  if (pw && body.securityProfile !== 0) body.ocppPassword = pw;
  const t = $('charger-tariff').value;
  if (t) body.tariffId = Number(t);
  hideSecret($('charger-secret'));
  await busy($('charger-btn'), 'Registering…', async () => {
    try {
      const data = await api('/api/admin/chargers', { method: 'POST', body });
      const c = data.charger;
      const auth = c.securityProfile === 0
        ? 'without authentication (security profile 0)'
        : `with security profile 1 (HTTP Basic auth, ${data.ocppPassword ? 'the password below' : 'the password you entered'})`;
      setMessage(msg, `Charger ${c.deviceId} registered (charging point ${c.chargingPointId}) ${auth}. Point it at ws://<host>/ocpp/${c.deviceId}.`, 'success');
      if (data.ocppPassword) showSecret($('charger-secret'), c.deviceId, data.ocppPassword);
      for (const id of ['charger-device', 'charger-cp', 'charger-name', 'charger-password']) $(id).value = '';
      $('charger-profile').value = '1';
      syncProfileNote();
      await loadChargers();
      renderStations();
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
});

function syncProfileNote() {
  const none = $('charger-profile').value === '0';
  syncPasswordInput($('charger-profile'), $('charger-password'));
  const notes = {
    0: 'Security profile 0: anyone who knows the device ID can connect as this charger. Use it only on a closed network.',
    1: 'The charger connects with HTTP Basic auth: user = device ID, password = its OCPP password. Leave the password empty and csms generates one.',
    2: 'The charger connects over wss:// (the TLS listener) with HTTP Basic auth: user = device ID, password = its OCPP password. Leave the password empty and csms generates one.',
    3: 'The charger connects over wss:// with a client certificate whose common name is the device ID, signed by the CA in CSMS_OCPP_TLS_CLIENT_CA.',
  };
  $('charger-profile-note').textContent = notes[$('charger-profile').value];
  $('charger-profile-note').classList.toggle('text-danger', none);
}
$('charger-profile').addEventListener('change', syncProfileNote);
