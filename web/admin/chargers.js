// csms operator console: the chargers table (live), its chips and the Manage row.

import { $, api, fillSelect, handleAuthError, state, stationName, tariffLabel, tariffOptions } from './core.js';
import { imageOptions } from './firmware.js';
import { loadLocalList } from './local-list.js';
import { deviceModelPanel, loadDeviceModel } from './device-model.js';
import { loadJobs } from './maintenance.js';
import { loadLog } from './messages.js';
import { syncReservationConnectors } from './reservations.js';
import { loadSecurity } from './security.js';
import { loadProfiles, periodRow } from './smart-charging.js';
import { renderTariffs } from './tariffs.js';

const { ago, dateTime, esc, statusClass } = CSMS;

/** The charger's OCPP security profile, for the chargers list. */
function profileChip(ch) {
  if (ch.securityProfile === 0) {
    return `<span class="chip warn" data-testid="security-profile" title="Security profile 0: anyone who knows the device ID can connect as this charger">Profile 0</span>
      <div class="dev-sub text-warn">no authentication</div>`;
  }
  if (ch.securityProfile === 3) {
    return `<span class="chip ok" data-testid="security-profile" title="Security profile 3: wss:// with a client certificate whose CN is the device ID">Profile 3 · certificate</span>`;
  }
  const how = ch.securityProfile === 2 ? 'wss:// and HTTP Basic auth' : 'HTTP Basic auth';
  return ch.hasOcppPassword
    ? `<span class="chip ok" data-testid="security-profile" title="Security profile ${esc(ch.securityProfile)}: ${how} with its OCPP password">Profile ${esc(ch.securityProfile)}</span>`
    : `<span class="chip bad" data-testid="security-profile" title="No password set: the charger cannot connect">Profile ${esc(ch.securityProfile)} · no password</span>`;
}

/** Pending (admitted unknown charger awaiting approval) and rejected (disabled) chargers. */
function registrationChip(ch) {
  const d = esc(ch.deviceId);
  if (ch.registration === 'pending') {
    return `<div class="mt-4"><span class="chip warn" data-testid="registration" title="Admitted unknown charger: BootNotification answered Pending until you accept it">Awaiting approval</span>
      <button type="button" class="btn-sm" data-registration="accepted" data-charger="${d}">Accept</button>
      <button type="button" class="btn-sm btn-ghost" data-registration="rejected" data-charger="${d}" data-open-sessions="${Number(ch.openSessions) || 0}">Reject</button></div>`;
  }
  if (ch.registration === 'rejected') {
    return `<div class="mt-4"><span class="chip bad" data-testid="registration" title="Disabled: BootNotification answered Rejected">Rejected</span>
      <button type="button" class="btn-sm" data-registration="accepted" data-charger="${d}">Accept</button></div>`;
  }
  return '';
}


export async function loadChargers() {
  try {
    const data = await api('/api/admin/chargers');
    state.chargers = data.chargers || [];
    state.lastChargersOk = Date.now();
    renderChargers();
    renderTariffs(); // "used by" and station charger counts depend on the chargers
    setRefreshState(true);
  } catch (e) {
    if (handleAuthError(e)) return;
    setRefreshState(false, e.message);
  }
}

function setRefreshState(ok, error) {
  const el = $('refresh-state');
  el.className = 'live ' + (ok ? 'on' : 'off');
  el.textContent = ok ? 'Live' : 'Refresh failed';
  el.title = ok ? 'Chargers refresh every 3 seconds' : error;
  $('chargers-updated').textContent = state.lastChargersOk ? 'Updated ' + new Date(state.lastChargersOk).toLocaleTimeString() + '.' : '';
}

function connectorChips(ch) {
  const conns = ch.connectors || [];
  if (!conns.length) return '<span class="muted small">none reported</span>';
  return conns.map((k) => {
    const err = k.errorCode && k.errorCode !== 'NoError' ? ` · ${k.errorCode}` : '';
    const title = [k.info, k.vendorErrorCode, 'updated ' + dateTime(k.updatedAt)].filter(Boolean).join(' · ');
    return `<span class="chip ${statusClass(k.status)}" title="${esc(title)}">${esc(k.connectorId)} · ${esc((k.status || 'Unknown') + err)}</span>`;
  }).join('');
}

/** The connector statuses that say most about a charger, most telling first. */
const STATUS_ORDER = ['Faulted', 'Charging', 'SuspendedEV', 'SuspendedEVSE', 'Preparing', 'Finishing', 'Reserved', 'Unavailable', 'Available'];
const STATUS_WORDS = { SuspendedEV: 'Paused by car', SuspendedEVSE: 'Paused by charger' };

/**
 * The charger's status as its connectors have it ("Charging (1 of 2)", "Available"), not only
 * connector 0's, which stays "Available" while a connector charges. Connector 0's own Faulted or
 * Unavailable (the whole charger) is shown too, with its error code.
 */
export function statusSummary(ch) {
  const conns = (ch.connectors || []).filter((k) => k.connectorId > 0);
  const parts = [];
  const whole = ch.status;
  const wholeErr = ch.errorCode && ch.errorCode !== 'NoError' ? ch.errorCode : '';
  if (whole && (whole === 'Faulted' || whole === 'Unavailable' || wholeErr)) {
    parts.push(`<span class="chip ${statusClass(whole)}" data-testid="charger-status-whole" title="connector 0: the charger as a whole">Charger ${esc(whole)}</span>`);
  }
  if (conns.length) {
    const count = new Map();
    for (const k of conns) count.set(k.status || 'Unknown', (count.get(k.status || 'Unknown') || 0) + 1);
    const rank = (s) => { const i = STATUS_ORDER.indexOf(s); return i < 0 ? STATUS_ORDER.length : i; };
    const shown = [...count.keys()].sort((a, b) => rank(a) - rank(b));
    const label = (s) => {
      const n = count.get(s);
      const word = STATUS_WORDS[s] || s;
      return conns.length > 1 && !(s === 'Available' && n === conns.length) ? `${word} (${n} of ${conns.length})` : word;
    };
    // the most telling status, and a second one unless it is only the rest being Available
    const main = shown[0];
    parts.push(`<span class="chip ${statusClass(main)}" data-testid="charger-status" data-status="${esc(main)}">${esc(label(main))}</span>`);
    if (shown[1] && shown[1] !== 'Available') parts.push(`<span class="chip ${statusClass(shown[1])}">${esc(label(shown[1]))}</span>`);
  } else if (whole && !parts.length) {
    parts.push(`<span class="chip ${statusClass(whole)}" data-testid="charger-status" data-status="${esc(whole)}">${esc(whole)}</span>`);
  }
  const err = wholeErr ? `<div class="dev-sub text-danger">${esc(wholeErr)}</div>` : '';
  return parts.length ? `<div class="mt-4 conn-chips">${parts.join('')}</div>${err}` : err;
}

function chargerCells(ch) {
  const hw = [ch.vendor, ch.model].filter(Boolean).join(' ');
  return {
    charger: `<div class="fw-650">${esc(ch.name || ch.chargingPointId)}</div>
      <div class="dev-id">${esc(ch.deviceId)}</div><div class="dev-sub">${esc(ch.chargingPointId)}</div>
      <div class="mt-4">${profileChip(ch)}</div>${registrationChip(ch)}`,
    station: `<div>${esc(stationName(ch.stationId) || '#' + ch.stationId)}</div><div class="dev-sub">${esc(ch.tariffId ? tariffLabel(ch.tariffId) : 'station tariff')}</div>`,
    status: `<span class="badge ${ch.online ? 'online' : 'offline'}" data-testid="online-badge">${ch.online ? 'Online' : 'Offline'}</span>
      ${ch.online && ch.node ? `<div class="dev-sub nowrap" data-testid="charger-node" title="the csms node holding its connection">node ${esc(ch.node)}</div>` : ''}
      ${statusSummary(ch)}`,
    connectors: `<div class="conn-chips">${connectorChips(ch)}</div>`,
    // seen: any frame (meter values too); a busy charger may send no Heartbeat
    heartbeat: `<div class="nowrap" data-testid="last-seen" title="${esc(ch.lastSeen || '')}">${esc(ch.lastSeen ? ago(ch.lastSeen) : 'never')}</div>
      <div class="dev-sub nowrap" data-testid="last-heartbeat" title="${esc(ch.lastHeartbeat || '')}">heartbeat ${esc(ch.lastHeartbeat ? ago(ch.lastHeartbeat) : 'none yet')}</div>`,
    hardware: `<div>${esc(hw || '—')}</div><div class="dev-sub">${esc(ch.firmwareVersion ? 'fw ' + ch.firmwareVersion : '')}${ch.lastBootAt ? ' · boot ' + esc(ago(ch.lastBootAt)) : ''}</div>
      ${ch.ocppVersion ? `<div class="dev-sub" data-testid="ocpp-version">${esc(ch.ocppVersion.replace('ocpp', 'OCPP '))}</div>` : ''}`,
  };
}

/** Whether the charger speaks OCPP 2.0.1 (its last connection did). */
export const is201 = (ch) => ch.ocppVersion === 'ocpp2.0.1';

/** The operator's commands of OCPP 2.0.1, sent as given (the contract's list). */
const ACTIONS_201 = ['RequestStartTransaction', 'RequestStopTransaction', 'GetVariables', 'SetVariables', 'GetBaseReport',
  'GetReport', 'SetNetworkProfile', 'Reset', 'ChangeAvailability', 'TriggerMessage', 'UnlockConnector', 'GetTransactionStatus',
  'ClearCache', 'ReserveNow', 'CancelReservation', 'SendLocalList', 'GetLocalListVersion', 'SetChargingProfile',
  'GetChargingProfiles', 'ClearChargingProfile', 'GetCompositeSchedule', 'UpdateFirmware', 'GetLog', 'CostUpdated', 'DataTransfer'];

function chargerRow(ch) {
  const tr = document.createElement('tr');
  tr.dataset.device = ch.deviceId;
  tr.innerHTML = `
    <td data-cell="charger"></td><td data-cell="station"></td><td data-cell="status"></td>
    <td data-cell="connectors"></td><td data-cell="heartbeat"></td><td data-cell="hardware"></td>
    <td class="right"><div class="row-actions">
      <select class="sm" data-reset-type aria-label="Reset type">${is201(ch) ? '<option>OnIdle</option><option>Immediate</option>' : '<option>Soft</option><option>Hard</option>'}</select>
      <button type="button" class="btn-sm" data-action="Reset" data-device="${esc(ch.deviceId)}">↻ Reset</button>
      <button type="button" class="btn-sm btn-ghost" data-manage aria-expanded="false">Manage ▾</button>
    </div></td>`;
  return tr;
}

export function connectorOptions(ch, includeZero) {
  const ids = (ch.connectors || []).map((k) => k.connectorId);
  if (!ids.length) ids.push(1);
  return (includeZero ? ['<option value="0">0 · whole charger</option>'] : [])
    .concat(ids.map((i) => `<option value="${i}">Connector ${i}</option>`)).join('');
}

function detailRow(ch) {
  const d = esc(ch.deviceId);
  const tr = document.createElement('tr');
  tr.className = 'detail';
  tr.dataset.detailFor = ch.deviceId;
  // A 2.0.1 station: its commands as given, and its device model, instead of 1.6's commands.
  const v16 = is201(ch) ? 'hidden' : '';
  const given = is201(ch) ? `<div class="cmd" data-given-201><span class="cmd-name">OCPP 2.0.1 command</span>
          <div class="cmd-fields"><select class="sm" data-given-action aria-label="Action">${ACTIONS_201.map((a) => `<option>${a}</option>`).join('')}</select>
          <textarea class="sm wide mono" data-given-payload rows="3" aria-label="Payload (JSON)" placeholder='payload as JSON, e.g. {"evseId": 1, "operationalStatus": "Inoperative"}'></textarea>
          <span class="muted small">Checked against the action's 2.0.1 schema and sent as given.</span></div>
          <button type="button" class="btn-sm" data-action="Given201" data-device="${d}">Send</button></div>` : '';
  tr.innerHTML = `<td colspan="7"><div class="detail-inner">
    <div>
      <h3 class="subhead">Commands</h3>
      <div class="cmd-grid">
        ${given}
        <div class="cmd" ${v16}><span class="cmd-name">Unlock connector</span>
          <div class="cmd-fields"><select class="sm" data-conn></select></div>
          <button type="button" class="btn-sm" data-action="UnlockConnector" data-device="${d}">Unlock</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Availability</span>
          <div class="cmd-fields"><select class="sm" data-conn0></select>
          <select class="sm" data-avail><option>Operative</option><option>Inoperative</option></select></div>
          <button type="button" class="btn-sm" data-action="ChangeAvailability" data-device="${d}">Change</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Get configuration</span>
          <div class="cmd-fields"><input class="sm wide" data-keys placeholder="keys, comma separated (empty = all)"></div>
          <button type="button" class="btn-sm" data-action="GetConfiguration" data-device="${d}">Get</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Change configuration</span>
          <div class="cmd-fields"><input class="sm" data-key placeholder="key, e.g. HeartbeatInterval">
          <input class="sm" data-value placeholder="value"></div>
          <button type="button" class="btn-sm" data-action="ChangeConfiguration" data-device="${d}">Set</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Trigger message</span>
          <div class="cmd-fields"><select class="sm" data-trigger>
            <option>StatusNotification</option><option>Heartbeat</option><option>BootNotification</option><option>MeterValues</option>
            <option>DiagnosticsStatusNotification</option><option>FirmwareStatusNotification</option>
          </select>
          <select class="sm" data-trigger-conn></select></div>
          <button type="button" class="btn-sm" data-action="TriggerMessage" data-device="${d}">Trigger</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Clear cache</span>
          <div class="cmd-fields"><span class="muted small">Clears the charger's authorization cache.</span></div>
          <button type="button" class="btn-sm" data-action="ClearCache" data-device="${d}">Clear cache</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Remote start</span>
          <div class="cmd-fields"><select class="sm" data-conn-start></select>
          <select class="sm" data-idtag aria-label="idTag"></select></div>
          <button type="button" class="btn-sm" data-action="RemoteStartTransaction" data-device="${d}">Start</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Remote stop</span>
          <div class="cmd-fields"><input class="sm" data-txid inputmode="numeric" placeholder="transactionId"></div>
          <button type="button" class="btn-sm" data-action="RemoteStopTransaction" data-device="${d}">Stop</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Data transfer</span>
          <div class="cmd-fields"><input class="sm" data-vendor placeholder="vendorId">
          <input class="sm" data-msgid placeholder="messageId">
          <input class="sm" data-data placeholder="data"></div>
          <button type="button" class="btn-sm" data-action="DataTransfer" data-device="${d}">Send</button></div>
        <div class="cmd"><span class="cmd-name">Tariff</span>
          <div class="cmd-fields"><select class="sm wide" data-charger-tariff></select></div>
          <button type="button" class="btn-sm" data-assign-tariff data-device="${d}">Assign</button></div>
        <div class="cmd"><span class="cmd-name">Security</span>
          <div class="cmd-fields"><select class="sm" data-profile aria-label="Security profile">
            <option value="1">1 · password</option><option value="2">2 · TLS + password</option>
            <option value="3">3 · TLS client certificate</option><option value="0">0 · no authentication</option></select>
          <input class="sm" data-new-password type="password" autocomplete="new-password" placeholder="new password" aria-label="New OCPP password (16–40 characters)">
          <span class="muted small">Stored in csms only: a new password (16–40 characters) takes effect at the charger's next connection. Moving from profile 0 without one generates one.</span></div>
          <button type="button" class="btn-sm" data-save-security data-device="${d}">Save</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Rotate password</span>
          <div class="cmd-fields"><span class="muted small">Sends the charger a new random password (ChangeConfiguration AuthorizationKey, 20 bytes as hex); csms stores it only when the charger accepts.</span></div>
          <button type="button" class="btn-sm" data-rotate-password data-device="${d}">Rotate password</button></div>
        <div class="cmd" ${v16}><span class="cmd-name">Raise profile over OCPP</span>
          <div class="cmd-fields"><select class="sm" data-raise-profile aria-label="New security profile">
            <option value="2">2 · TLS + password</option><option value="3">3 · TLS client certificate</option></select>
          <span class="muted small">ChangeConfiguration SecurityProfile; once accepted, send Reset: the charger must come back over wss://, and the old profile is refused.</span></div>
          <button type="button" class="btn-sm" data-raise-security data-device="${d}">Send</button></div>
        <div class="message" data-security-message></div>
        <div class="secret" data-secret hidden></div>
        <div class="cmd"><span class="cmd-name">Registration</span>
          <div class="cmd-fields"><span class="muted small">Pending or Rejected: its BootNotification is answered so and it may not start charging; transactions it already runs are still stopped and billed.</span></div>
          <button type="button" class="btn-sm btn-ghost" data-registration="pending" data-charger="${d}" data-open-sessions="${Number(ch.openSessions) || 0}">Set pending</button>
          <button type="button" class="btn-sm btn-ghost" data-registration="rejected" data-charger="${d}" data-open-sessions="${Number(ch.openSessions) || 0}">Reject</button></div>
        <div class="cmd"><span class="cmd-name">Delete</span>
          <div class="cmd-fields"><span class="muted small">Only chargers without charging history.</span></div>
          <button type="button" class="btn-sm btn-danger" data-delete data-device="${d}">Delete charger</button></div>
      </div>
      ${is201(ch) ? deviceModelPanel(ch.deviceId) : ''}
    </div>
    <div>
      <div class="card-head tight">
        <h3 class="subhead flush">OCPP message log</h3>
        <div class="actions">
          <input class="sm" data-log-filter type="search" placeholder="Filter by action">
          <span class="muted small" data-log-count></span>
        </div>
      </div>
      <div class="log" data-log><div class="empty">Loading messages…</div></div>
    </div>
    <div class="detail-wide">
      <div class="ll-line" data-local-list data-testid="local-list">
        <span class="cmd-name">Local list</span>
        <span class="ll-state" data-ll-state><span class="muted small">Loading…</span></span>
        <span class="ll-actions">
          <button type="button" class="btn-sm" data-ll-sync data-device="${d}">Sync</button>
          <button type="button" class="btn-sm btn-ghost" data-ll-full data-device="${d}">Send full list</button>
        </span>
      </div>
      <div class="message" data-ll-message role="status"></div>
    </div>
    <div class="maint-panel" data-fw-panel>
      <h3 class="subhead">Firmware &amp; diagnostics</h3>
      <div class="cmd-grid">
        <div class="cmd"><span class="cmd-name">Update firmware</span>
          <div class="cmd-fields"><select class="sm wide" data-fw-image aria-label="Firmware image"></select></div>
          <button type="button" class="btn-sm" data-fw-update data-device="${d}">Update firmware</button></div>
        <div class="cmd"><span class="cmd-name">Diagnostics</span>
          <div class="cmd-fields"><span class="muted small">The charger uploads its diagnostics file to csms; download it below.</span></div>
          <button type="button" class="btn-sm" data-diagnostics data-device="${d}">Get diagnostics</button></div>
      </div>
      <div class="message" data-fw-message role="status"></div>
      <div class="table-wrap mt-8">
        <table class="mini-table">
          <thead><tr><th>#</th><th>Job</th><th>Status</th><th>History</th><th>File</th></tr></thead>
          <tbody data-jobs><tr><td colspan="5" class="empty">Loading jobs…</td></tr></tbody>
        </table>
      </div>
    </div>
    <div class="maint-panel" data-sec-panel>
      <h3 class="subhead">Security: certificates &amp; events</h3>
      <div class="cmd-grid">
        <div class="cmd"><span class="cmd-name">Charger certificate</span>
          <div class="cmd-fields"><span class="muted small">The charger sends a CSR; csms's CA signs it.</span></div>
          <button type="button" class="btn-sm" data-sec-cert data-device="${d}">Request certificate</button></div>
        <div class="cmd"><span class="cmd-name">Security log</span>
          <div class="cmd-fields"><span class="muted small">Uploaded to csms; download it below.</span></div>
          <button type="button" class="btn-sm" data-sec-log data-device="${d}">Get security log</button></div>
      </div>
      <div class="message" data-sec-message role="status"></div>
      <div class="table-wrap mt-8">
        <table class="mini-table">
          <thead><tr><th>Certificate</th><th>Serial</th><th>Expires</th><th>Status</th></tr></thead>
          <tbody data-certs><tr><td colspan="4" class="empty">Loading certificates…</td></tr></tbody>
        </table>
      </div>
      <div class="table-wrap mt-8">
        <table class="mini-table">
          <thead><tr><th>Request</th><th>Job</th><th>Status</th><th>History</th><th>File</th></tr></thead>
          <tbody data-sec-jobs><tr><td colspan="5" class="empty">Loading…</td></tr></tbody>
        </table>
      </div>
      <div class="table-wrap mt-8">
        <table class="mini-table">
          <thead><tr><th>Time</th><th>Security event</th><th>Details</th><th>Source</th></tr></thead>
          <tbody data-sec-events><tr><td colspan="4" class="empty">Loading security events…</td></tr></tbody>
        </table>
      </div>
    </div>
    <div class="maint-panel detail-wide" data-sc-panel>
      <div class="card-head tight">
        <h3 class="subhead flush">Smart charging</h3>
        <div class="actions"><button type="button" class="btn-sm btn-danger" data-sc-clear-all data-device="${d}">Clear all profiles</button></div>
      </div>
      <div class="table-wrap">
        <table class="mini-table">
          <thead><tr><th>#</th><th>Connector</th><th>Profile</th><th>Schedule</th><th>Status</th></tr></thead>
          <tbody data-profiles><tr><td colspan="5" class="empty">Loading profiles…</td></tr></tbody>
        </table>
      </div>
      <div class="message" data-sc-message role="status"></div>
      <form class="sc-form" data-sc-form data-device="${d}" novalidate>
        <h4 class="minihead">Set a charging profile</h4>
        <div class="sc-fields">
          <label>Connector<select class="sm" data-sc-connector></select></label>
          <label>Purpose<select class="sm" data-sc-purpose>
            <option>TxDefaultProfile</option><option>ChargePointMaxProfile</option><option>TxProfile</option></select></label>
          <label>Kind<select class="sm" data-sc-kind><option>Absolute</option><option>Recurring</option><option>Relative</option></select></label>
          <label>Recurrency<select class="sm" data-sc-recurrency disabled><option>Daily</option><option>Weekly</option></select></label>
          <label>Unit<select class="sm" data-sc-unit><option value="A">A (amperes)</option><option value="W">W (watts)</option></select></label>
          <label>Stack level<input class="sm" data-sc-stack type="number" min="0" step="1" value="0" inputmode="numeric"></label>
          <label>Transaction<input class="sm" data-sc-tx inputmode="numeric" placeholder="TxProfile only" disabled></label>
          <label>Duration (s)<input class="sm" data-sc-duration inputmode="numeric" placeholder="optional"></label>
        </div>
        <table class="mini-table periods">
          <thead><tr><th>Start (s)</th><th>Limit</th><th></th></tr></thead>
          <tbody data-sc-periods>${periodRow(0, '')}</tbody>
        </table>
        <div class="sc-buttons">
          <button type="button" class="btn-sm btn-ghost" data-sc-add-period>+ Period</button>
          <button type="submit" class="btn-sm btn-accent" data-sc-send>Send profile</button>
        </div>
      </form>
      <div class="sc-form" data-cs-box>
        <h4 class="minihead">Composite schedule</h4>
        <div class="sc-fields">
          <label>Connector<select class="sm" data-cs-connector></select></label>
          <label>Duration (s)<input class="sm" data-cs-duration inputmode="numeric" value="3600"></label>
          <label>Unit<select class="sm" data-cs-unit><option value="">charger's choice</option><option>A</option><option>W</option></select></label>
          <button type="button" class="btn-sm" data-cs-get data-device="${d}">Get schedule</button>
        </div>
        <div data-cs-result></div>
      </div>
    </div>
  </div></td>`;
  return tr;
}

export function idTagOptions() {
  return state.customers.length
    ? state.customers.map((c) => `<option value="${esc(c.idTag)}">${esc(c.idTag)} — ${esc(c.name)}</option>`).join('')
    : '<option value="">no customers</option>';
}

function syncDetail(tr, ch) {
  fillSelect(tr.querySelector('[data-idtag]'), idTagOptions());
  fillSelect(tr.querySelector('[data-conn]'), connectorOptions(ch, false));
  fillSelect(tr.querySelector('[data-conn0]'), connectorOptions(ch, true));
  fillSelect(tr.querySelector('[data-conn-start]'), connectorOptions(ch, false));
  fillSelect(tr.querySelector('[data-trigger-conn]'), '<option value="">any connector</option>' + connectorOptions(ch, false));
  const tsel = tr.querySelector('[data-charger-tariff]');
  const fresh = !tsel.dataset.html;
  fillSelect(tsel, tariffOptions(null, 'Use station tariff'));
  if (fresh) tsel.value = ch.tariffId ? String(ch.tariffId) : '';
  fillSelect(tr.querySelector('[data-fw-image]'), imageOptions());
  fillSelect(tr.querySelector('[data-sc-connector]'), connectorOptions(ch, true));
  fillSelect(tr.querySelector('[data-cs-connector]'), connectorOptions(ch, true));
  const psel = tr.querySelector('[data-profile]');
  if (!psel.dataset.synced) {
    psel.dataset.synced = '1';
    psel.value = String(ch.securityProfile);
    syncPasswordInput(psel, tr.querySelector('[data-new-password]'));
  }
}

/** Profile 0 means no password: the password field is off then. */
export function syncPasswordInput(profileSelect, input) {
  const none = profileSelect.value === '0';
  input.disabled = none;
  if (none) input.value = '';
}

function renderChargers() {
  const body = $('chargers-body');
  const list = state.chargers;
  body.querySelectorAll('tr.placeholder').forEach((r) => r.remove());
  if (!list.length) {
    body.innerHTML = '<tr class="placeholder"><td colspan="7" class="empty">No chargers registered yet. Register one below.</td></tr>';
  }
  const seen = new Set();
  let anchor = null; // keep rows in API order
  for (const ch of list) {
    seen.add(ch.deviceId);
    let tr = body.querySelector(`tr[data-device="${CSS.escape(ch.deviceId)}"]`);
    if (!tr) tr = chargerRow(ch);
    const want = anchor ? anchor.nextSibling : body.firstChild;
    if (tr !== want) body.insertBefore(tr, want);
    anchor = tr;
    const cells = chargerCells(ch);
    for (const [k, html] of Object.entries(cells)) {
      const td = tr.querySelector(`[data-cell="${k}"]`);
      if (td.dataset.html !== html) { td.innerHTML = html; td.dataset.html = html; }
    }
    let det = body.querySelector(`tr.detail[data-detail-for="${CSS.escape(ch.deviceId)}"]`);
    if (state.open.has(ch.deviceId)) {
      if (!det) { det = detailRow(ch); }
      if (tr.nextSibling !== det) body.insertBefore(det, tr.nextSibling);
      syncDetail(det, ch);
      anchor = det;
    } else if (det) {
      det.remove();
    }
  }
  for (const tr of body.querySelectorAll('tr[data-device], tr.detail')) {
    const id = tr.dataset.device || tr.dataset.detailFor;
    if (!seen.has(id)) tr.remove();
  }

  // stats, counts and the session filter's charger list
  $('count-chargers').textContent = list.length;
  $('stat-online').textContent = `${list.filter((c) => c.online).length} / ${list.length}`;
  const conns = list.flatMap((c) => c.connectors || []);
  $('stat-charging').textContent = `${conns.filter((k) => k.status === 'Charging').length} / ${conns.length}`;
  const deviceOptions = list.map((c) => `<option value="${esc(c.deviceId)}">${esc(c.deviceId)}${c.name ? ' — ' + esc(c.name) : ''}</option>`).join('');
  fillSelect($('filter-device'), '<option value="">Any charger</option>' + deviceOptions);
  fillSelect($('rfilter-device'), '<option value="">Any charger</option>' + deviceOptions);
  fillSelect($('reservation-device'), deviceOptions || '<option value="">No chargers yet</option>');
  syncReservationConnectors();
}

export function toggleDetail(deviceId) {
  if (state.open.has(deviceId)) {
    state.open.delete(deviceId);
    state.logs.delete(deviceId);
  } else {
    state.open.add(deviceId);
  }
  const tr = $('chargers-body').querySelector(`tr[data-device="${CSS.escape(deviceId)}"]`);
  if (tr) {
    const b = tr.querySelector('[data-manage]');
    b.setAttribute('aria-expanded', String(state.open.has(deviceId)));
    b.textContent = state.open.has(deviceId) ? 'Close ▴' : 'Manage ▾';
  }
  renderChargers();
  if (state.open.has(deviceId)) {
    loadLog(deviceId);
    loadJobs(deviceId);
    loadSecurity(deviceId);
    loadProfiles(deviceId);
    loadLocalList(deviceId);
    const ch = state.chargers.find((c) => c.deviceId === deviceId);
    if (ch && is201(ch)) loadDeviceModel(deviceId);
  } else {
    state.jobs.delete(deviceId);
  }
}
