// csms — operator console: chargers (live), OCPP commands and message log, charger credentials,
// firmware images, updates and diagnostics, charging profiles, local lists, stations (with power
// limits and live load), tariffs, customers and wallets, tokens (idTags), reservations, sessions
// (with force-close), write-offs.
'use strict';

(() => {
  const { request, download, money, currencySymbol, kwh, esc, dateTime, ago, duration, parseTime, jsonHtml, statusClass, toast, busy, setMessage } = CSMS;

  const TOKEN_KEY = 'csms.adminToken';
  const CHARGERS_MS = 3000;
  const SESSIONS_MS = 5000;
  const OPEN_STATUSES = ['pending', 'active', 'stopping'];

  const $ = (id) => document.getElementById(id);
  const fmt = (v) => money(v, state.currency);

  const state = {
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

  const api = (path, opts = {}) => request(path, { token: state.token, ...opts });

  function setCurrency(code) {
    if (!code || code === state.currency) return;
    state.currency = code;
    for (const el of document.querySelectorAll('.cur-sym')) el.textContent = currencySymbol(code).trim();
  }

  function handleAuthError(e) {
    if (e && (e.status === 401 || e.status === 403) && state.token) {
      logout(e.message);
      return true;
    }
    return false;
  }

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

  // ---------------------------------------------------------------- lookups

  const stationName = (id) => (state.stations.find((s) => s.id === id) || {}).name;
  const tariffById = (id) => state.tariffs.find((t) => t.id === id);
  const tariffLabel = (id) => {
    const t = tariffById(id);
    return t ? `${t.name} · ${fmt(t.pricePerKwh)}/kWh` : (id ? `#${id}` : '');
  };
  const customerById = (id) => state.customers.find((c) => c.id === id);

  function tariffOptions(selected, noneLabel = 'No tariff') {
    return `<option value="">${esc(noneLabel)}</option>` + state.tariffs.map((t) =>
      `<option value="${t.id}"${t.id === selected ? ' selected' : ''}>${esc(t.name)} — ${esc(fmt(t.pricePerKwh))}/kWh</option>`).join('');
  }

  /** Refills a <select> only when its options would change, keeping the current choice. */
  function fillSelect(sel, html) {
    if (sel.dataset.html === html) return;
    const v = sel.value;
    sel.innerHTML = html;
    sel.dataset.html = html;
    if ([...sel.options].some((o) => o.value === v)) sel.value = v;
  }

  // ---------------------------------------------------------------- charger passwords

  /**
   * Shows a charger password that csms generated. The API returns it once (only a salted hash is
   * stored), so it stays on screen until the operator dismisses it or leaves the page.
   */
  function showSecret(box, deviceId, password) {
    box.innerHTML = `<div class="secret-head"><strong>OCPP password for <span class="dev-id">${esc(deviceId)}</span></strong>
        <button type="button" class="btn-sm btn-ghost" data-secret-dismiss>Done</button></div>
      <div class="secret-value"><code data-testid="secret-value">${esc(password)}</code>
        <button type="button" class="btn-sm" data-secret-copy>Copy</button></div>
      <div class="secret-note">It will not be shown again: csms keeps only a hash of it. Configure the charger with it now
        (HTTP Basic auth, user <span class="mono">${esc(deviceId)}</span>).</div>`;
    box.hidden = false;
  }

  function hideSecret(box) {
    box.hidden = true;
    box.innerHTML = '';
  }

  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest('[data-secret-copy], [data-secret-dismiss]');
    if (!b) return;
    const box = b.closest('.secret');
    if (b.hasAttribute('data-secret-dismiss')) { hideSecret(box); return; }
    const code = box.querySelector('code');
    try {
      await navigator.clipboard.writeText(code.textContent);
      toast('Password copied');
    } catch (_) {
      // no clipboard access (e.g. not a secure context): select it for a manual copy
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      toast('Press Ctrl+C to copy the selected password');
    }
  });

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

  // ---------------------------------------------------------------- chargers

  async function loadChargers() {
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

  function chargerCells(ch) {
    const statusErr = ch.errorCode && ch.errorCode !== 'NoError' ? `<div class="dev-sub text-danger">${esc(ch.errorCode)}</div>` : '';
    const hw = [ch.vendor, ch.model].filter(Boolean).join(' ');
    return {
      charger: `<div class="fw-650">${esc(ch.name || ch.chargingPointId)}</div>
        <div class="dev-id">${esc(ch.deviceId)}</div><div class="dev-sub">${esc(ch.chargingPointId)}</div>
        <div class="mt-4">${profileChip(ch)}</div>${registrationChip(ch)}`,
      station: `<div>${esc(stationName(ch.stationId) || '#' + ch.stationId)}</div><div class="dev-sub">${esc(ch.tariffId ? tariffLabel(ch.tariffId) : 'station tariff')}</div>`,
      status: `<span class="badge ${ch.online ? 'online' : 'offline'}" data-testid="online-badge">${ch.online ? 'Online' : 'Offline'}</span>
        ${ch.online && ch.node ? `<div class="dev-sub nowrap" data-testid="charger-node" title="the csms node holding its connection">node ${esc(ch.node)}</div>` : ''}
        ${ch.status ? `<div class="mt-4"><span class="chip ${statusClass(ch.status)}">${esc(ch.status)}</span></div>` : ''}${statusErr}`,
      connectors: `<div class="conn-chips">${connectorChips(ch)}</div>`,
      heartbeat: `<div class="nowrap" title="${esc(ch.lastHeartbeat || '')}">${esc(ch.lastHeartbeat ? ago(ch.lastHeartbeat) : '—')}</div>
        <div class="dev-sub nowrap" title="${esc(ch.lastSeen || '')}">seen ${esc(ch.lastSeen ? ago(ch.lastSeen) : 'never')}</div>`,
      hardware: `<div>${esc(hw || '—')}</div><div class="dev-sub">${esc(ch.firmwareVersion ? 'fw ' + ch.firmwareVersion : '')}${ch.lastBootAt ? ' · boot ' + esc(ago(ch.lastBootAt)) : ''}</div>`,
    };
  }

  function chargerRow(ch) {
    const tr = document.createElement('tr');
    tr.dataset.device = ch.deviceId;
    tr.innerHTML = `
      <td data-cell="charger"></td><td data-cell="station"></td><td data-cell="status"></td>
      <td data-cell="connectors"></td><td data-cell="heartbeat"></td><td data-cell="hardware"></td>
      <td class="right"><div class="row-actions">
        <select class="sm" data-reset-type aria-label="Reset type"><option>Soft</option><option>Hard</option></select>
        <button type="button" class="btn-sm" data-action="Reset" data-device="${esc(ch.deviceId)}">↻ Reset</button>
        <button type="button" class="btn-sm btn-ghost" data-manage aria-expanded="false">Manage ▾</button>
      </div></td>`;
    return tr;
  }

  function connectorOptions(ch, includeZero) {
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
    tr.innerHTML = `<td colspan="7"><div class="detail-inner">
      <div>
        <h3 class="subhead">Commands</h3>
        <div class="cmd-grid">
          <div class="cmd"><span class="cmd-name">Unlock connector</span>
            <div class="cmd-fields"><select class="sm" data-conn></select></div>
            <button type="button" class="btn-sm" data-action="UnlockConnector" data-device="${d}">Unlock</button></div>
          <div class="cmd"><span class="cmd-name">Availability</span>
            <div class="cmd-fields"><select class="sm" data-conn0></select>
            <select class="sm" data-avail><option>Operative</option><option>Inoperative</option></select></div>
            <button type="button" class="btn-sm" data-action="ChangeAvailability" data-device="${d}">Change</button></div>
          <div class="cmd"><span class="cmd-name">Get configuration</span>
            <div class="cmd-fields"><input class="sm wide" data-keys placeholder="keys, comma separated (empty = all)"></div>
            <button type="button" class="btn-sm" data-action="GetConfiguration" data-device="${d}">Get</button></div>
          <div class="cmd"><span class="cmd-name">Change configuration</span>
            <div class="cmd-fields"><input class="sm" data-key placeholder="key, e.g. HeartbeatInterval">
            <input class="sm" data-value placeholder="value"></div>
            <button type="button" class="btn-sm" data-action="ChangeConfiguration" data-device="${d}">Set</button></div>
          <div class="cmd"><span class="cmd-name">Trigger message</span>
            <div class="cmd-fields"><select class="sm" data-trigger>
              <option>StatusNotification</option><option>Heartbeat</option><option>BootNotification</option><option>MeterValues</option>
              <option>DiagnosticsStatusNotification</option><option>FirmwareStatusNotification</option>
            </select>
            <select class="sm" data-trigger-conn></select></div>
            <button type="button" class="btn-sm" data-action="TriggerMessage" data-device="${d}">Trigger</button></div>
          <div class="cmd"><span class="cmd-name">Clear cache</span>
            <div class="cmd-fields"><span class="muted small">Clears the charger's authorization cache.</span></div>
            <button type="button" class="btn-sm" data-action="ClearCache" data-device="${d}">Clear cache</button></div>
          <div class="cmd"><span class="cmd-name">Remote start</span>
            <div class="cmd-fields"><select class="sm" data-conn-start></select>
            <select class="sm" data-idtag aria-label="idTag"></select></div>
            <button type="button" class="btn-sm" data-action="RemoteStartTransaction" data-device="${d}">Start</button></div>
          <div class="cmd"><span class="cmd-name">Remote stop</span>
            <div class="cmd-fields"><input class="sm" data-txid inputmode="numeric" placeholder="transactionId"></div>
            <button type="button" class="btn-sm" data-action="RemoteStopTransaction" data-device="${d}">Stop</button></div>
          <div class="cmd"><span class="cmd-name">Data transfer</span>
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
          <div class="cmd"><span class="cmd-name">Rotate password</span>
            <div class="cmd-fields"><span class="muted small">Sends the charger a new random password (ChangeConfiguration AuthorizationKey, 20 bytes as hex); csms stores it only when the charger accepts.</span></div>
            <button type="button" class="btn-sm" data-rotate-password data-device="${d}">Rotate password</button></div>
          <div class="cmd"><span class="cmd-name">Raise profile over OCPP</span>
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
      <div class="maint-panel" data-sc-panel>
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

  function idTagOptions() {
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
  function syncPasswordInput(profileSelect, input) {
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

  function toggleDetail(deviceId) {
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
    } else {
      state.jobs.delete(deviceId);
    }
  }

  // ---------------------------------------------------------------- commands

  function commandPayload(action, scope) {
    const q = (sel) => scope.querySelector(sel);
    const int = (v) => (v === '' || v === undefined ? undefined : Number(v));
    switch (action) {
      case 'Reset': return { type: q('[data-reset-type]').value };
      case 'UnlockConnector': return { connectorId: int(q('[data-conn]').value) };
      case 'ChangeAvailability': return { connectorId: int(q('[data-conn0]').value), type: q('[data-avail]').value };
      case 'GetConfiguration': {
        const keys = q('[data-keys]').value.split(',').map((s) => s.trim()).filter(Boolean);
        return keys.length ? { key: keys } : {};
      }
      case 'ChangeConfiguration': return { key: q('[data-key]').value.trim(), value: q('[data-value]').value };
      case 'ClearCache': return {};
      case 'TriggerMessage': {
        const p = { requestedMessage: q('[data-trigger]').value };
        const c = q('[data-trigger-conn]').value;
        if (c !== '') p.connectorId = Number(c);
        return p;
      }
      case 'RemoteStartTransaction': return { connectorId: int(q('[data-conn-start]').value), idTag: q('[data-idtag]').value.trim() };
      case 'RemoteStopTransaction': return { transactionId: int(q('[data-txid]').value.trim()) };
      case 'DataTransfer': {
        const p = { vendorId: q('[data-vendor]').value.trim() };
        const m = q('[data-msgid]').value.trim();
        const d = q('[data-data]').value;
        if (m) p.messageId = m;
        if (d) p.data = d;
        return p;
      }
      default: return {};
    }
  }

  function showCommandResult(kind, deviceId, action, content) {
    const el = $('command-result');
    el.className = 'command-result ' + kind;
    // not data-device / data-action: those select the command buttons
    el.dataset.resultDevice = deviceId;
    el.dataset.resultAction = action;
    el.dataset.state = kind;
    const time = new Date().toLocaleTimeString();
    const head = `<div class="cr-head"><strong>${esc(action)}</strong><span class="muted">→</span><span class="dev-id">${esc(deviceId)}</span>`;
    if (kind === 'pending') {
      el.innerHTML = `${head}<span class="spinner" aria-hidden="true"></span><span class="muted">waiting for the charger…</span></div>`;
    } else if (kind === 'error') {
      el.innerHTML = `${head}<span class="chip bad">Error</span><span class="muted small">${esc(time)}</span></div><div class="cr-error">${esc(content)}</div>`;
    } else {
      const r = content || {};
      const status = typeof r.status === 'string' ? `<span class="chip ${/accepted|unlocked/i.test(r.status) ? 'ok' : 'bad'}">${esc(r.status)}</span>` : '';
      let extra = '';
      if (action === 'GetConfiguration' && Array.isArray(r.configurationKey)) {
        extra = `<div class="config-table"><table><thead><tr><th>Key</th><th>Value</th><th>Read-only</th></tr></thead><tbody>${
          r.configurationKey.map((k) => `<tr><td class="mono">${esc(k.key)}</td><td class="mono">${esc(k.value ?? '')}</td><td>${k.readonly ? 'yes' : ''}</td></tr>`).join('')
        }</tbody></table></div>${r.unknownKey && r.unknownKey.length ? `<div class="small muted">Unknown keys: ${esc(r.unknownKey.join(', '))}</div>` : ''}`;
      }
      const raw = extra
        ? `<details><summary class="small muted">Raw response</summary><pre class="json">${jsonHtml(r)}</pre></details>`
        : `<pre class="json">${jsonHtml(r)}</pre>`;
      el.innerHTML = `${head}${status}<span class="muted small">${esc(time)}</span></div>${extra}${raw}`;
    }
  }

  async function runCommand(button) {
    const action = button.dataset.action;
    const deviceId = button.dataset.device;
    const scope = button.closest('tr');
    const payload = commandPayload(action, scope);
    if (action === 'ChangeConfiguration' && !payload.key) {
      showCommandResult('error', deviceId, action, 'Enter the configuration key to change.');
      scope.querySelector('[data-key]').focus();
      return;
    }
    showCommandResult('pending', deviceId, action);
    await busy(button, '', async () => {
      try {
        const data = await api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/commands/${encodeURIComponent(action)}`, { method: 'POST', body: payload });
        showCommandResult('success', deviceId, action, data.response);
      } catch (e) {
        if (handleAuthError(e)) return;
        showCommandResult('error', deviceId, action, e.message);
      }
    });
    if (state.open.has(deviceId)) loadLog(deviceId);
    loadChargers();
  }

  $('chargers-body').addEventListener('click', async (ev) => {
    const t = ev.target.closest('button');
    if (!t) return;
    if (t.hasAttribute('data-manage')) {
      toggleDetail(t.closest('tr').dataset.device);
    } else if (t.dataset.action) {
      runCommand(t);
    } else if (t.hasAttribute('data-assign-tariff')) {
      const d = t.dataset.device;
      const v = t.closest('tr').querySelector('[data-charger-tariff]').value;
      await busy(t, '', async () => {
        try {
          await api(`/api/admin/chargers/${encodeURIComponent(d)}/tariff`, { method: 'PUT', body: { tariffId: v ? Number(v) : null } });
          toast(v ? `Tariff assigned to ${d}` : `${d} now uses its station's tariff`);
          loadChargers();
          loadTariffs();
        } catch (e) {
          if (!handleAuthError(e)) toast(e.message, 'error');
        }
      });
    } else if (t.dataset.registration) {
      const d = t.dataset.charger;
      const status = t.dataset.registration;
      const open = Number(t.dataset.openSessions) || 0;
      if (status !== 'accepted' && open > 0 && !window.confirm(
        `${d} has ${open} open session${open === 1 ? '' : 's'}. ${status === 'rejected' ? 'Rejecting' : 'Setting it back to pending'} stops it from starting new ones; ` +
        'the running ones are still stopped and billed from what the charger reports. Continue?')) return;
      await busy(t, '', async () => {
        try {
          await api(`/api/admin/chargers/${encodeURIComponent(d)}/registration`, { method: 'PUT', body: { status } });
          toast(status === 'accepted' ? `${d} accepted` : `${d} ${status}`);
          loadChargers();
        } catch (e) {
          if (!handleAuthError(e)) toast(e.message, 'error');
        }
      });
    } else if (t.hasAttribute('data-save-security')) {
      saveSecurity(t);
    } else if (t.hasAttribute('data-rotate-password')) {
      rotatePassword(t);
    } else if (t.hasAttribute('data-raise-security')) {
      raiseProfile(t);
    } else if (t.hasAttribute('data-delete')) {
      const d = t.dataset.device;
      if (!window.confirm(`Delete charger ${d}? This cannot be undone.`)) return;
      await busy(t, '', async () => {
        try {
          await api(`/api/admin/chargers/${encodeURIComponent(d)}`, { method: 'DELETE' });
          toast(`Charger ${d} deleted`);
          state.open.delete(d);
          loadChargers();
        } catch (e) {
          if (!handleAuthError(e)) toast(e.message, 'error');
        }
      });
    }
  });

  $('chargers-body').addEventListener('change', (ev) => {
    if (ev.target.matches('[data-profile]')) {
      syncPasswordInput(ev.target, ev.target.closest('tr').querySelector('[data-new-password]'));
    }
  });

  /** PUT /api/admin/chargers/{deviceId}: security profile and password. */
  async function saveSecurity(button) {
    const d = button.dataset.device;
    const scope = button.closest('tr');
    const profile = Number(scope.querySelector('[data-profile]').value);
    const input = scope.querySelector('[data-new-password]');
    const msg = scope.querySelector('[data-security-message]');
    const box = scope.querySelector('[data-secret]');
    setMessage(msg, '');
    const body = { securityProfile: profile };
    if (profile !== 0 && input.value) body.ocppPassword = input.value;
    await busy(button, '', async () => {
      try {
        const data = await api(`/api/admin/chargers/${encodeURIComponent(d)}`, { method: 'PUT', body });
        input.value = '';
        hideSecret(box);
        let text;
        if (profile === 0) {
          text = `${d} now connects without authentication (security profile 0).`;
        } else if (data.ocppPassword) {
          text = `${d} uses security profile ${profile} with the password csms generated below; it takes effect at the charger's next connection.`;
          showSecret(box, d, data.ocppPassword);
        } else if (body.ocppPassword) {
          text = `New password saved for ${d}; it takes effect at the charger's next connection.`;
        } else {
          text = `${d} uses security profile ${profile}; its password is unchanged.`;
        }
        setMessage(msg, text, 'success');
        loadChargers();
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
  }

  /** ChangeConfiguration AuthorizationKey with a new random password, shown once when accepted. */
  async function rotatePassword(button) {
    const d = button.dataset.device;
    const scope = button.closest('tr');
    const msg = scope.querySelector('[data-security-message]');
    const box = scope.querySelector('[data-secret]');
    const bytes = new Uint8Array(20);
    crypto.getRandomValues(bytes);
    const password = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    setMessage(msg, '');
    await busy(button, '', async () => {
      try {
        const data = await api(`/api/admin/chargers/${encodeURIComponent(d)}/commands/ChangeConfiguration`,
          { method: 'POST', body: { key: 'AuthorizationKey', value: password } });
        const status = data.response && data.response.status;
        if (status === 'Accepted' || status === 'RebootRequired') {
          showSecret(box, d, password);
          setMessage(msg, `${d} accepted its new password (${status}); csms stored it for its next connection.`, 'success');
          loadChargers();
        } else {
          hideSecret(box);
          setMessage(msg, `${d} answered ${status || 'nothing usable'}: the password is unchanged.`, 'error');
        }
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
  }

  /** ChangeConfiguration SecurityProfile (the upgrade of TC_083). */
  async function raiseProfile(button) {
    const d = button.dataset.device;
    const scope = button.closest('tr');
    const msg = scope.querySelector('[data-security-message]');
    const value = scope.querySelector('[data-raise-profile]').value;
    setMessage(msg, '');
    await busy(button, '', async () => {
      try {
        const data = await api(`/api/admin/chargers/${encodeURIComponent(d)}/commands/ChangeConfiguration`,
          { method: 'POST', body: { key: 'SecurityProfile', value } });
        const status = data.response && data.response.status;
        const ok = status === 'Accepted' || status === 'RebootRequired';
        setMessage(msg, ok
          ? `${d} accepted security profile ${value}: send Reset; it must reconnect over wss:// from now on.`
          : `${d} answered ${status || 'nothing usable'}: its profile is unchanged.`, ok ? 'success' : 'error');
        if (ok) loadChargers();
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
  }

  // ---------------------------------------------------------------- OCPP message log

  const MT = { 2: 'CALL', 3: 'RESULT', 4: 'ERROR' };

  function payloadOf(frame) {
    if (!Array.isArray(frame)) return frame;
    if (frame[0] === 2) return frame[3];
    if (frame[0] === 3) return frame[2];
    if (frame[0] === 4) return { errorCode: frame[2], errorDescription: frame[3], errorDetails: frame[4] };
    return frame;
  }

  async function loadLog(deviceId) {
    const det = $('chargers-body').querySelector(`tr.detail[data-detail-for="${CSS.escape(deviceId)}"]`);
    if (!det) return;
    const box = det.querySelector('[data-log]');
    let data;
    try {
      data = await api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/messages?limit=100`);
    } catch (e) {
      if (handleAuthError(e)) return;
      box.innerHTML = `<div class="message error">${esc(e.message)}</div>`;
      return;
    }
    const msgs = data.messages || [];
    const filter = det.querySelector('[data-log-filter]').value.trim().toLowerCase();
    const shown = filter ? msgs.filter((m) => String(m.action || '').toLowerCase().includes(filter)) : msgs;
    const log = state.logs.get(deviceId) || { key: '', openIds: new Set() };
    state.logs.set(deviceId, log);
    const key = filter + '|' + shown.length + '|' + (shown[0] ? shown[0].id : '');
    if (key === log.key) return; // nothing new; keep the DOM (and expanded items) as they are
    log.key = key;
    det.querySelector('[data-log-count]').textContent = `${shown.length} of last ${msgs.length}`;
    if (!shown.length) {
      box.innerHTML = '<div class="empty">No messages yet.</div>';
      return;
    }
    const scroll = box.scrollTop;
    box.innerHTML = shown.map((m) => {
      const dir = m.direction === 'in' ? 'in' : 'out';
      const p = payloadOf(m.frame);
      let preview = '';
      try { preview = JSON.stringify(p); } catch (_) { preview = ''; }
      if (preview && preview.length > 120) preview = preview.slice(0, 117) + '…';
      return `<details class="log-item ${dir}" data-id="${m.id}"${log.openIds.has(String(m.id)) ? ' open' : ''}>
        <summary>
          <span class="arrow" title="${dir === 'in' ? 'from charger' : 'to charger'}">${dir === 'in' ? '←' : '→'}</span>
          <span class="mt t${esc(m.messageType)}">${esc(MT[m.messageType] || m.messageType)}</span>
          <span class="min-w-0"><div class="act">${esc(m.action || '—')}</div><div class="preview">${esc(preview)}</div></span>
          <span class="ts" title="${esc(m.createdAt)}">${esc(dateTime(m.createdAt))}</span>
        </summary>
        <pre class="json">${jsonHtml(m.frame)}</pre>
      </details>`;
    }).join('');
    box.scrollTop = scroll;
  }

  function refreshOpenLogs() {
    for (const d of state.open) loadLog(d);
  }

  // remember which log entries are expanded, so refreshes keep them open
  $('chargers-body').addEventListener('toggle', (ev) => {
    const item = ev.target;
    if (!item.matches || !item.matches('details.log-item')) return;
    const det = item.closest('tr.detail');
    const log = det && state.logs.get(det.dataset.detailFor);
    if (!log) return;
    if (item.open) log.openIds.add(item.dataset.id); else log.openIds.delete(item.dataset.id);
  }, true);

  $('chargers-body').addEventListener('input', (ev) => {
    if (ev.target.matches('[data-log-filter]')) {
      const d = ev.target.closest('tr.detail').dataset.detailFor;
      const log = state.logs.get(d);
      if (log) log.key = '';
      loadLog(d);
    }
  });

  // ---------------------------------------------------------------- firmware images

  const bytes = (n) => {
    const v = Number(n);
    if (!Number.isFinite(v)) return '—';
    if (v < 1024) return v + ' B';
    if (v < 1024 * 1024) return (v / 1024).toFixed(1) + ' KiB';
    return (v / 1024 / 1024).toFixed(1) + ' MiB';
  };

  async function loadImages() {
    try {
      const data = await api('/api/admin/firmware');
      state.images = data.images || [];
      renderImages();
    } catch (e) {
      if (!handleAuthError(e)) $('firmware-body').innerHTML = `<tr><td colspan="6"><div class="message error">${esc(e.message)}</div></td></tr>`;
    }
  }

  function renderImages() {
    const list = state.images;
    $('count-firmware').textContent = list.length;
    const html = list.length ? list.map((i) => `<tr data-image="${esc(i.id)}">
        <td class="muted">${esc(i.id)}</td>
        <td class="fw-600">${esc(i.name)}</td>
        <td class="mono">${esc(i.version)}</td>
        <td class="right num">${esc(bytes(i.size))}</td>
        <td class="mono small" title="${esc(i.sha256)}">${esc(String(i.sha256 || '').slice(0, 12))}…</td>
        <td class="nowrap" title="${esc(i.createdAt)}">${esc(dateTime(i.createdAt))}</td>
      </tr>`).join('') : '<tr><td colspan="6" class="empty">No images yet. Upload one to update chargers.</td></tr>';
    const body = $('firmware-body');
    if (body.dataset.html !== html) { body.innerHTML = html; body.dataset.html = html; }
    for (const sel of document.querySelectorAll('#chargers-body [data-fw-image]')) fillSelect(sel, imageOptions());
  }

  function imageOptions() {
    return state.images.length
      ? state.images.map((i) => `<option value="${esc(i.id)}">#${esc(i.id)} ${esc(i.name)} · ${esc(i.version)}</option>`).join('')
      : '<option value="">no images: upload one in Firmware</option>';
  }

  $('firmware-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = $('firmware-message');
    setMessage(msg, '');
    const file = $('firmware-file').files[0];
    const version = $('firmware-version').value.trim();
    if (!file || !version) {
      setMessage(msg, !file ? 'Choose the image file.' : 'Enter the version the charger reports after installing it.', 'error');
      return;
    }
    await busy($('firmware-btn'), 'Uploading…', async () => {
      try {
        const q = new URLSearchParams({ name: file.name, version });
        const data = await api('/api/admin/firmware?' + q.toString(), { method: 'POST', raw: file });
        const i = data.image;
        setMessage(msg, `Image #${i.id} ${i.name} (version ${i.version}, ${bytes(i.size)}) uploaded.`, 'success');
        $('firmware-form').reset();
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
    loadImages();
  });

  // ---------------------------------------------------------------- per charger: jobs, profiles, local list

  const JOB_DONE = /^(Installed|DownloadFailed|InstallationFailed|Uploaded|UploadFailed|Idle|Failed)/;
  const detailOf = (deviceId) => $('chargers-body').querySelector(`tr.detail[data-detail-for="${CSS.escape(deviceId)}"]`);
  const setHtml = (el, html) => { if (el && el.dataset.html !== html) { el.innerHTML = html; el.dataset.html = html; } };

  function refreshOpenPanels() {
    for (const d of state.open) {
      const jobs = state.jobs.get(d);
      if (!jobs || jobs.some((j) => !JOB_DONE.test(j.status))) loadJobs(d); // poll while one is in progress
      loadSecurity(d);
      loadProfiles(d);
      loadLocalList(d);
    }
  }

  // Certificates csms issued and the charger reported installed (with expiry), and security events
  // (critical ones highlighted).
  const shortSerial = (x) => (x && x.length > 12 ? x.slice(0, 12) + '…' : (x || ''));

  async function loadSecurity(deviceId) {
    const enc = encodeURIComponent(deviceId);
    let certs, events, jobs;
    try {
      [certs, events, jobs] = await Promise.all([
        api(`/api/admin/chargers/${enc}/certificates`),
        api(`/api/admin/chargers/${enc}/security-events?limit=50`),
        api(`/api/admin/chargers/${enc}/security-jobs`),
      ]);
    } catch (e) {
      if (!handleAuthError(e)) setHtml(detailOf(deviceId)?.querySelector('[data-certs]'), `<tr><td colspan="4"><div class="message error">${esc(e.message)}</div></td></tr>`);
      return;
    }
    const det = detailOf(deviceId);
    if (!det) return;
    const c = certs.certificates || { issued: [], installed: [] };
    const issued = (c.issued || []).map((x) => `<tr data-cert="${esc(x.serial)}">
        <td><div class="fw-600">Charge point certificate</div><div class="dev-sub">${esc(x.commonName)}</div></td>
        <td class="mono small" title="${esc(x.serial)}">${esc(shortSerial(x.serial))}</td>
        <td class="nowrap" title="${esc(x.notAfter)}">${esc(dateTime(x.notAfter))}${x.expired ? ' <span class="chip bad">expired</span>' : ''}</td>
        <td><span class="chip ${x.status === 'Accepted' ? 'ok' : (x.status === 'Pending' ? 'busy' : 'bad')}" data-testid="cert-status">${esc(x.status)}</span></td>
      </tr>`);
    const installed = (c.installed || []).map((x) => `<tr data-installed="${esc(x.serialNumber)}">
        <td><div class="fw-600">${esc(x.certificateType)}</div><div class="dev-sub">reported ${esc(dateTime(x.reportedAt))}</div></td>
        <td class="mono small" title="${esc(x.serialNumber)}">${esc(shortSerial(x.serialNumber))}</td>
        <td class="muted">—</td>
        <td><span class="chip ok">installed</span></td>
      </tr>`);
    const rows = issued.concat(installed);
    setHtml(det.querySelector('[data-certs]'), rows.length ? rows.join('') : '<tr><td colspan="4" class="empty">No certificates yet.</td></tr>');
    const js = jobs.jobs || [];
    setHtml(det.querySelector('[data-sec-jobs]'), js.length ? js.map((j) => {
      const history = (Array.isArray(j.history) ? j.history : []).map((h) =>
        `<li><span>${esc(h[0])}</span> <span class="muted" title="${esc(h[1])}">${esc(dateTime(h[1]))}</span></li>`).join('');
      const file = j.kind !== 'SignedFirmware' && j.fileName && j.receivedBytes !== null && j.receivedBytes !== undefined
        ? `<button type="button" class="btn-sm btn-ghost link-btn" data-sec-file="${esc(j.id)}" data-file-name="${esc(j.fileName)}">⬇ ${esc(j.fileName)}</button><div class="dev-sub">${esc(bytes(j.receivedBytes))}</div>`
        : '<span class="muted">—</span>';
      return `<tr data-sec-job="${esc(j.id)}" data-kind="${esc(j.kind)}" data-status="${esc(j.status)}">
        <td class="muted">${esc(j.requestId)}</td>
        <td><div class="fw-600">${esc(j.kind === 'SignedFirmware' ? 'Signed firmware' : j.kind)}</div><div class="dev-sub nowrap" title="${esc(j.createdAt)}">${esc(dateTime(j.createdAt))}</div></td>
        <td>${jobChip(j.status)}</td>
        <td><ol class="job-history">${history}</ol></td>
        <td>${file}</td>
      </tr>`;
    }).join('') : '<tr><td colspan="5" class="empty">No security logs or signed firmware updates yet.</td></tr>');
    const ev = events.events || [];
    setHtml(det.querySelector('[data-sec-events]'), ev.length ? ev.map((e) => `<tr class="${e.critical ? 'crit' : ''}" data-sec-event="${esc(e.id)}" data-critical="${e.critical}">
        <td class="nowrap" title="${esc(e.timestamp || e.receivedAt)}">${esc(dateTime(e.timestamp || e.receivedAt))}</td>
        <td><span class="fw-600">${esc(e.type)}</span>${e.critical ? ' <span class="chip bad">critical</span>' : ''}</td>
        <td class="small">${esc(e.techInfo || '')}</td>
        <td class="muted">${esc(e.source)}</td>
      </tr>`).join('') : '<tr><td colspan="4" class="empty">No security events.</td></tr>');
  }

  function jobChip(status) {
    const cls = /^(Installed|Uploaded)$/.test(status) ? 'ok' : (/Failed/.test(status) ? 'bad' : (status === 'Idle' ? 's-unknown' : 'busy'));
    return `<span class="chip ${cls}" data-testid="job-status">${esc(status)}</span>`;
  }

  async function loadJobs(deviceId) {
    let data;
    try {
      data = await api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/maintenance`);
    } catch (e) {
      if (!handleAuthError(e)) setHtml(detailOf(deviceId)?.querySelector('[data-jobs]'), `<tr><td colspan="5"><div class="message error">${esc(e.message)}</div></td></tr>`);
      return;
    }
    const jobs = data.jobs || [];
    state.jobs.set(deviceId, jobs);
    const body = detailOf(deviceId)?.querySelector('[data-jobs]');
    if (!body) return;
    setHtml(body, jobs.length ? jobs.map((j) => {
      const img = state.images.find((i) => i.id === j.imageId);
      const what = j.kind === 'firmware'
        ? `<div class="fw-600">Firmware</div><div class="dev-sub">${img ? esc(img.name + ' · ' + img.version) : (j.imageId ? 'image #' + esc(j.imageId) : 'not requested by csms')}</div>`
        : `<div class="fw-600">Diagnostics</div>`;
      const history = (Array.isArray(j.history) ? j.history : []).map((h) =>
        `<li><span>${esc(h[0])}</span> <span class="muted" title="${esc(h[1])}">${esc(dateTime(h[1]))}</span></li>`).join('');
      const file = j.kind === 'diagnostics' && j.fileName && j.receivedBytes !== null && j.receivedBytes !== undefined
        ? `<button type="button" class="btn-sm btn-ghost link-btn" data-job-file="${esc(j.id)}" data-file-name="${esc(j.fileName)}">⬇ ${esc(j.fileName)}</button><div class="dev-sub">${esc(bytes(j.receivedBytes))}</div>`
        : '<span class="muted">—</span>';
      return `<tr data-job="${esc(j.id)}" data-kind="${esc(j.kind)}" data-status="${esc(j.status)}">
        <td class="muted">${esc(j.id)}</td>
        <td>${what}<div class="dev-sub nowrap" title="${esc(j.createdAt)}">${esc(dateTime(j.createdAt))}</div></td>
        <td>${jobChip(j.status)}</td>
        <td><ol class="job-history">${history}</ol></td>
        <td>${file}</td>
      </tr>`;
    }).join('') : '<tr><td colspan="5" class="empty">No firmware updates or diagnostics yet.</td></tr>');
  }

  function periodRow(start, limit) {
    return `<tr data-period><td><input class="sm" data-period-start inputmode="numeric" value="${esc(start)}" aria-label="Start period (seconds)"></td>
      <td><input class="sm" data-period-limit inputmode="decimal" value="${esc(limit)}" placeholder="e.g. 16" aria-label="Limit"></td>
      <td><button type="button" class="btn-sm btn-ghost" data-sc-remove-period aria-label="Remove period">✕</button></td></tr>`;
  }

  function scheduleSummary(p) {
    const cs = (p && p.chargingSchedule) || {};
    const unit = cs.chargingRateUnit || '';
    const periods = (cs.chargingSchedulePeriod || []).map((x) => `${x.startPeriod}s: ${x.limit} ${unit}`).join(', ');
    const kind = [p && p.chargingProfileKind, p && p.recurrencyKind].filter(Boolean).join(' · ');
    return `<div>${esc(periods || '—')}</div><div class="dev-sub">${esc(kind)}${cs.duration ? ' · ' + esc(cs.duration) + ' s' : ''}</div>`;
  }

  async function loadProfiles(deviceId) {
    let data;
    try {
      data = await api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/charging-profiles?current=true`);
    } catch (e) {
      if (!handleAuthError(e)) setHtml(detailOf(deviceId)?.querySelector('[data-profiles]'), `<tr><td colspan="5"><div class="message error">${esc(e.message)}</div></td></tr>`);
      return;
    }
    const body = detailOf(deviceId)?.querySelector('[data-profiles]');
    if (!body) return;
    const list = data.profiles || [];
    setHtml(body, list.length ? list.map((p) => {
      const cls = p.status === 'installed' ? 'ok' : (p.status === 'pending' ? 's-pending' : 'bad');
      return `<tr data-profile-id="${esc(p.id)}" data-status="${esc(p.status)}" data-purpose="${esc(p.purpose)}">
        <td class="muted">${esc(p.id)}</td>
        <td>${p.connectorId === 0 ? 'whole charger' : esc(p.connectorId)}</td>
        <td><div class="fw-600">${esc(p.purpose)}</div><div class="dev-sub">stack ${esc(p.stackLevel)} · ${esc(p.origin)}${p.transactionId ? ' · tx ' + esc(p.transactionId) : ''}</div></td>
        <td>${scheduleSummary(p.profile)}</td>
        <td><span class="chip ${cls}" data-testid="profile-status">${esc(p.status)}</span>${p.answer && p.answer !== 'Accepted' ? `<div class="dev-sub text-danger">${esc(p.answer)}</div>` : ''}
          <div class="mt-4"><button type="button" class="btn-sm btn-ghost" data-sc-clear="${esc(p.id)}" data-device="${esc(deviceId)}">Clear</button></div></td>
      </tr>`;
    }).join('') : '<tr><td colspan="5" class="empty">No charging profiles installed.</td></tr>');
  }

  async function loadLocalList(deviceId) {
    let data;
    try {
      data = await api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/local-list`);
    } catch (e) {
      if (!handleAuthError(e)) setHtml(detailOf(deviceId)?.querySelector('[data-ll-state]'), `<span class="text-danger small">${esc(e.message)}</span>`);
      return;
    }
    const box = detailOf(deviceId)?.querySelector('[data-local-list]');
    if (!box) return;
    const l = data.localList || {};
    box.dataset.inSync = String(!!l.inSync);
    box.dataset.version = String(l.version ?? '');
    box.dataset.lastStatus = l.lastStatus || '';
    const parts = [
      `<span class="chip ${l.inSync ? 'ok' : 'warn'}" data-testid="local-list-sync">${l.inSync ? 'In sync' : 'Out of sync'}</span>`,
      `<span>version <strong data-testid="local-list-version">${esc(l.version ?? '—')}</strong>${l.chargerVersion !== null && l.chargerVersion !== undefined && l.chargerVersion !== l.version ? ` <span class="muted">(charger ${esc(l.chargerVersion)})</span>` : ''}</span>`,
      `<span>${esc(l.entries ?? 0)} entries${l.desiredEntries !== undefined && l.desiredEntries !== l.entries ? ` <span class="muted">(${esc(l.desiredEntries)} wanted)</span>` : ''}</span>`,
      `<span class="muted">last: ${l.lastStatus ? `<span data-testid="local-list-status">${esc(l.lastStatus)}</span>` : 'never sent'}${l.lastUpdate ? ' · ' + esc(l.lastUpdate) : ''}${l.syncedAt ? ' · ' + esc(ago(l.syncedAt)) : ''}</span>`,
    ];
    setHtml(box.querySelector('[data-ll-state]'), parts.join('<span class="sep">·</span>'));
  }

  /** The csChargingProfiles object of the detail's profile form; throws Error with a message to show. */
  function profileFromForm(form) {
    const q = (sel) => form.querySelector(sel);
    const purpose = q('[data-sc-purpose]').value;
    const kind = q('[data-sc-kind]').value;
    const stack = Number(q('[data-sc-stack]').value);
    if (!Number.isInteger(stack) || stack < 0) throw new Error('The stack level is a whole number, 0 or more.');
    const periods = [...form.querySelectorAll('tr[data-period]')].map((tr) => ({
      startPeriod: Number(tr.querySelector('[data-period-start]').value.trim()),
      limit: Number(tr.querySelector('[data-period-limit]').value.trim().replace(',', '.')),
      empty: !tr.querySelector('[data-period-limit]').value.trim(),
    })).filter((p) => !p.empty);
    if (!periods.length) throw new Error('Enter at least one period with a limit.');
    for (const p of periods) {
      if (!Number.isInteger(p.startPeriod) || p.startPeriod < 0) throw new Error('A period starts at a whole number of seconds, 0 or more.');
      if (!Number.isFinite(p.limit) || p.limit < 0) throw new Error('A limit is a number, 0 or more.');
    }
    periods.sort((a, b) => a.startPeriod - b.startPeriod);
    if (periods[0].startPeriod !== 0) throw new Error('The first period starts at 0 s.');
    const schedule = {
      chargingRateUnit: q('[data-sc-unit]').value,
      chargingSchedulePeriod: periods.map((p) => ({ startPeriod: p.startPeriod, limit: p.limit })),
    };
    const dur = q('[data-sc-duration]').value.trim();
    if (dur) {
      const n = Number(dur);
      if (!Number.isInteger(n) || n <= 0) throw new Error('The duration is a whole number of seconds.');
      schedule.duration = n;
    }
    if (kind !== 'Relative') schedule.startSchedule = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const profile = { stackLevel: stack, chargingProfilePurpose: purpose, chargingProfileKind: kind, chargingSchedule: schedule };
    if (kind === 'Recurring') profile.recurrencyKind = q('[data-sc-recurrency]').value;
    if (purpose === 'TxProfile') {
      const tx = Number(q('[data-sc-tx]').value.trim());
      if (!Number.isInteger(tx) || tx <= 0) throw new Error('A TxProfile needs the transactionId it applies to.');
      profile.transactionId = tx;
    }
    return { connectorId: Number(q('[data-sc-connector]').value), chargingProfile: profile };
  }

  function syncProfileForm(form) {
    const purpose = form.querySelector('[data-sc-purpose]').value;
    const kind = form.querySelector('[data-sc-kind]').value;
    form.querySelector('[data-sc-recurrency]').disabled = kind !== 'Recurring';
    const tx = form.querySelector('[data-sc-tx]');
    tx.disabled = purpose !== 'TxProfile';
    if (tx.disabled) tx.value = '';
    const conn = form.querySelector('[data-sc-connector]');
    if (purpose === 'ChargePointMaxProfile') conn.value = '0';
    else if (purpose === 'TxProfile' && conn.value === '0' && conn.options.length > 1) conn.value = conn.options[1].value;
  }

  function compositeHtml(r) {
    const cs = (r && r.chargingSchedule) || null;
    let table = '';
    if (cs && Array.isArray(cs.chargingSchedulePeriod)) {
      const start = parseTime(cs.startSchedule || r.scheduleStart);
      table = `<table class="mini-table" data-testid="composite-periods"><thead><tr><th>From</th><th>Limit</th><th>Phases</th></tr></thead><tbody>${
        cs.chargingSchedulePeriod.map((p) => `<tr><td>${esc(p.startPeriod)} s${start ? ` <span class="muted">(${esc(dateTime(new Date(start.getTime() + p.startPeriod * 1000)))})</span>` : ''}</td>
          <td class="fw-600">${esc(p.limit)} ${esc(cs.chargingRateUnit || '')}</td><td>${esc(p.numberPhases ?? '—')}</td></tr>`).join('')
      }</tbody></table>`;
    }
    const status = r && r.status ? `<span class="chip ${r.status === 'Accepted' ? 'ok' : 'bad'}">${esc(r.status)}</span>` : '';
    return `<div class="mt-4">${status}${cs && cs.duration ? ` <span class="muted small">${esc(cs.duration)} s</span>` : ''}</div>${table}
      <details><summary class="small muted">Raw response</summary><pre class="json">${jsonHtml(r)}</pre></details>`;
  }

  $('chargers-body').addEventListener('change', (ev) => {
    const form = ev.target.closest('form[data-sc-form]');
    if (form && ev.target.matches('[data-sc-purpose], [data-sc-kind]')) syncProfileForm(form);
  });

  $('chargers-body').addEventListener('submit', async (ev) => {
    const form = ev.target.closest('form[data-sc-form]');
    if (!form) return;
    ev.preventDefault();
    const d = form.dataset.device;
    const msg = form.closest('[data-sc-panel]').querySelector('[data-sc-message]');
    setMessage(msg, '');
    let body;
    try {
      body = profileFromForm(form);
    } catch (e) {
      setMessage(msg, e.message, 'error');
      return;
    }
    await busy(form.querySelector('[data-sc-send]'), 'Sending…', async () => {
      try {
        const data = await api(`/api/admin/chargers/${encodeURIComponent(d)}/charging-profiles`, { method: 'POST', body });
        const p = data.profile;
        setMessage(msg, `Profile #${p.id} (${p.purpose}) ${p.status}${p.answer && p.status !== 'installed' ? ': ' + p.answer : ''}.`, p.status === 'installed' ? 'success' : 'error');
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
    loadProfiles(d);
  });

  $('chargers-body').addEventListener('click', async (ev) => {
    const t = ev.target.closest('button');
    if (!t) return;
    const det = t.closest('tr.detail');
    if (!det) return;
    const d = det.dataset.detailFor;
    const enc = encodeURIComponent(d);
    if (t.hasAttribute('data-fw-update') || t.hasAttribute('data-diagnostics')) {
      const msg = det.querySelector('[data-fw-message]');
      setMessage(msg, '');
      const firmware = t.hasAttribute('data-fw-update');
      const imageId = Number(det.querySelector('[data-fw-image]').value);
      if (firmware && !imageId) { setMessage(msg, 'Upload a firmware image first (Firmware section).', 'error'); return; }
      await busy(t, firmware ? 'Sending…' : 'Asking…', async () => {
        try {
          const data = firmware
            ? await api(`/api/admin/chargers/${enc}/firmware`, { method: 'POST', body: { imageId } })
            : await api(`/api/admin/chargers/${enc}/diagnostics`, { method: 'POST', body: {} });
          setMessage(msg, `${firmware ? 'UpdateFirmware' : 'GetDiagnostics'} sent: job #${data.job.id} ${data.job.status}.`, 'success');
        } catch (e) {
          if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
        }
      });
      loadJobs(d);
    } else if (t.hasAttribute('data-sec-cert') || t.hasAttribute('data-sec-log')) {
      const msg = det.querySelector('[data-sec-message]');
      setMessage(msg, '');
      const cert = t.hasAttribute('data-sec-cert');
      await busy(t, 'Asking…', async () => {
        try {
          if (cert) {
            const data = await api(`/api/admin/chargers/${enc}/commands/ExtendedTriggerMessage`, { method: 'POST', body: { requestedMessage: 'SignChargePointCertificate' } });
            setMessage(msg, `The charger answered ${data.response && data.response.status}.`, 'success');
          } else {
            const data = await api(`/api/admin/chargers/${enc}/logs`, { method: 'POST', body: { logType: 'SecurityLog' } });
            setMessage(msg, `GetLog sent: request #${data.job.requestId} ${data.job.status}.`, 'success');
          }
        } catch (e) {
          if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
        }
      });
      loadSecurity(d);
    } else if (t.hasAttribute('data-sec-file')) {
      await busy(t, '', async () => {
        try {
          await download(`/api/admin/security-jobs/${encodeURIComponent(t.dataset.secFile)}/file`, { token: state.token, fileName: t.dataset.fileName });
        } catch (e) {
          if (!handleAuthError(e)) toast(e.message, 'error');
        }
      });
    } else if (t.hasAttribute('data-job-file')) {
      await busy(t, '', async () => {
        try {
          await download(`/api/admin/maintenance/${encodeURIComponent(t.dataset.jobFile)}/file`, { token: state.token, fileName: t.dataset.fileName });
        } catch (e) {
          if (!handleAuthError(e)) toast(e.message, 'error');
        }
      });
    } else if (t.hasAttribute('data-sc-add-period')) {
      const rows = det.querySelector('[data-sc-periods]');
      const last = [...rows.querySelectorAll('[data-period-start]')].map((i) => Number(i.value) || 0);
      rows.insertAdjacentHTML('beforeend', periodRow(last.length ? Math.max(...last) + 900 : 0, ''));
    } else if (t.hasAttribute('data-sc-remove-period')) {
      const rows = det.querySelector('[data-sc-periods]');
      if (rows.children.length > 1) t.closest('tr').remove();
      else t.closest('tr').querySelector('[data-period-limit]').value = '';
    } else if (t.hasAttribute('data-sc-clear') || t.hasAttribute('data-sc-clear-all')) {
      const all = t.hasAttribute('data-sc-clear-all');
      if (all && !window.confirm(`Clear every charging profile on ${d}?`)) return;
      const msg = det.querySelector('[data-sc-message]');
      setMessage(msg, '');
      await busy(t, '', async () => {
        try {
          const data = await api(`/api/admin/chargers/${enc}/charging-profiles/clear`, { method: 'POST', body: all ? {} : { id: Number(t.dataset.scClear) } });
          const st = data.response && data.response.status;
          setMessage(msg, `ClearChargingProfile${all ? ' (all)' : ' #' + t.dataset.scClear}: ${st}.`, st === 'Accepted' ? 'success' : 'error');
        } catch (e) {
          if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
        }
      });
      loadProfiles(d);
    } else if (t.hasAttribute('data-cs-get')) {
      const out = det.querySelector('[data-cs-result]');
      const p = new URLSearchParams({ connectorId: det.querySelector('[data-cs-connector]').value });
      const dur = det.querySelector('[data-cs-duration]').value.trim();
      if (dur) p.set('duration', dur);
      const unit = det.querySelector('[data-cs-unit]').value;
      if (unit) p.set('chargingRateUnit', unit);
      await busy(t, '', async () => {
        try {
          const data = await api(`/api/admin/chargers/${enc}/composite-schedule?${p.toString()}`);
          out.innerHTML = compositeHtml(data.response);
        } catch (e) {
          if (!handleAuthError(e)) out.innerHTML = `<div class="message error">${esc(e.message)}</div>`;
        }
      });
    } else if (t.hasAttribute('data-ll-sync') || t.hasAttribute('data-ll-full')) {
      const full = t.hasAttribute('data-ll-full');
      const msg = det.querySelector('[data-ll-message]');
      setMessage(msg, '');
      await busy(t, '', async () => {
        try {
          const data = await api(`/api/admin/chargers/${enc}/local-list`, { method: 'POST', body: full ? { full: true } : {} });
          const r = data.result;
          const text = r.updateType === 'None'
            ? `Already in sync (version ${r.listVersion}).`
            : `SendLocalList ${r.updateType} version ${r.listVersion} (${r.sent} entries): ${r.status}.`;
          setMessage(msg, text, r.updateType === 'None' || r.status === 'Accepted' ? 'success' : 'error');
        } catch (e) {
          if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
        }
      });
      loadLocalList(d);
    }
  });

  // ---------------------------------------------------------------- station power limits

  const kw = (w) => (w === null || w === undefined ? '—' : (Number(w) / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 }) + ' kW');

  async function loadLoads() {
    const ids = state.stations.map((s) => s.id);
    const results = await Promise.allSettled(ids.map((id) => api(`/api/admin/stations/${id}/load`)));
    results.forEach((r, i) => { if (r.status === 'fulfilled' && r.value.load) state.loads.set(ids[i], r.value.load); });
    const failed = results.find((r) => r.status === 'rejected');
    if (failed && handleAuthError(failed.reason)) return;
    renderLoads();
  }

  function loadCells(s, l) {
    if (!l) return { limit: '<span class="muted">…</span>', allocated: '', shares: '' };
    const limited = l.maxPowerW !== null && l.maxPowerW !== undefined;
    const shares = (l.transactions || []).map((t) =>
      `<li><span class="dev-id">${esc(t.deviceId)}</span> #${esc(t.connectorId)} · tx ${esc(t.transactionId)}: <strong>${t.limitW === null || t.limitW === undefined ? 'no limit' : esc(kw(t.limitW))}</strong></li>`).join('');
    return {
      limit: limited ? `<span class="chip busy plain" data-testid="power-limit" title="${esc(l.maxPowerW)} W">${esc(kw(l.maxPowerW))}</span>`
        : '<span class="muted" data-testid="power-limit">no limit</span>',
      allocated: `<span class="num" data-testid="allocated" title="${esc(l.allocatedW)} W">${esc(kw(l.allocatedW))}</span>${limited && l.maxPowerW > 0 ? `<div class="dev-sub">${esc(Math.round((100 * l.allocatedW) / l.maxPowerW))}% of the limit</div>` : ''}`,
      shares: shares ? `<ul class="shares">${shares}</ul>` : '<span class="muted">no transactions</span>',
    };
  }

  function renderLoads() {
    const body = $('loads-body');
    const list = state.stations;
    body.querySelectorAll('tr.placeholder').forEach((r) => r.remove());
    if (!list.length) { body.innerHTML = '<tr class="placeholder"><td colspan="5" class="empty">No stations yet.</td></tr>'; return; }
    const seen = new Set();
    for (const s of list) {
      seen.add(String(s.id));
      let tr = body.querySelector(`tr[data-station-load="${s.id}"]`);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.stationLoad = s.id;
        tr.innerHTML = `<td data-cell="name"></td><td data-cell="limit"></td><td data-cell="allocated"></td><td data-cell="shares"></td>
          <td class="right"><div class="row-actions">
            <input class="sm limit-input" data-limit-input type="number" min="0" step="100" inputmode="numeric" placeholder="e.g. 11000" aria-label="Power limit in watts">
            <button type="button" class="btn-sm" data-limit-set>Set</button>
            <button type="button" class="btn-sm btn-ghost" data-limit-remove>Remove</button>
          </div></td>`;
        body.appendChild(tr);
      }
      const l = state.loads.get(s.id);
      tr.dataset.maxPowerW = l && l.maxPowerW !== null && l.maxPowerW !== undefined ? String(l.maxPowerW) : '';
      const cells = { name: `<div class="fw-600">${esc(s.name)}</div><div class="dev-sub">#${esc(s.id)}</div>`, ...loadCells(s, l) };
      for (const [k, html] of Object.entries(cells)) setHtml(tr.querySelector(`[data-cell="${k}"]`), html);
    }
    for (const tr of body.querySelectorAll('tr[data-station-load]')) if (!seen.has(tr.dataset.stationLoad)) tr.remove();
  }

  $('loads-body').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-limit-set], button[data-limit-remove]');
    if (!b) return;
    const tr = b.closest('tr');
    const id = Number(tr.dataset.stationLoad);
    const msg = $('loads-message');
    setMessage(msg, '');
    let maxPowerW = null;
    if (b.hasAttribute('data-limit-set')) {
      const v = tr.querySelector('[data-limit-input]').value.trim();
      maxPowerW = Number(v);
      if (!v || !Number.isInteger(maxPowerW) || maxPowerW < 0) {
        setMessage(msg, 'Enter the limit in watts (a whole number), e.g. 11000.', 'error');
        return;
      }
    }
    await busy(b, '', async () => {
      try {
        const data = await api(`/api/admin/stations/${id}/power-limit`, { method: 'PUT', body: { maxPowerW } });
        state.loads.set(id, data.load);
        tr.querySelector('[data-limit-input]').value = '';
        const name = stationName(id) || '#' + id;
        setMessage(msg, maxPowerW === null ? `Power limit of ${name} removed.` : `Power limit of ${name} set to ${kw(maxPowerW)}.`, 'success');
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
    renderLoads();
  });

  // ---------------------------------------------------------------- stations

  async function loadStations() {
    try {
      const data = await api('/api/admin/stations');
      state.stations = data.stations || [];
      renderStations();
    } catch (e) {
      handleAuthError(e);
    }
  }

  function renderStations() {
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

  // ---------------------------------------------------------------- tariffs

  async function loadTariffs() {
    try {
      const data = await api('/api/admin/tariffs');
      state.tariffs = data.tariffs || [];
      renderTariffs();
    } catch (e) {
      handleAuthError(e);
    }
  }

  function renderTariffs() {
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

  // ---------------------------------------------------------------- customers

  async function loadCustomers() {
    try {
      const data = await api('/api/admin/customers');
      setCurrency(data.currency);
      state.customers = data.customers || [];
      renderCustomers();
    } catch (e) {
      handleAuthError(e);
    }
  }

  function renderCustomers() {
    const list = state.customers;
    $('count-customers').textContent = list.length;
    $('stat-wallets').textContent = fmt(list.reduce((a, c) => a + (Number(c.walletBalance) || 0), 0));
    const q = $('customer-search').value.trim().toLowerCase();
    const shown = q ? list.filter((c) => (c.name + ' ' + c.email + ' ' + c.idTag).toLowerCase().includes(q)) : list;
    const body = $('customers-body');
    // rows are kept (so a half-typed credit amount survives a refresh); only their values change
    const existing = new Map([...body.querySelectorAll('tr[data-customer]')].map((r) => [r.dataset.customer, r]));
    body.querySelectorAll('tr:not([data-customer])').forEach((r) => r.remove());
    let anchor = null;
    for (const c of shown) {
      const id = String(c.id);
      let tr = existing.get(id);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.customer = id;
        tr.innerHTML = `<td class="muted">${c.id}</td><td data-c="who"></td><td class="mono" data-c="tag"></td>
          <td class="right num fw-650" data-c="bal"></td>
          <td><form class="credit-form" data-credit="${c.id}" novalidate>
            <input class="sm amt" inputmode="decimal" placeholder="Amount" aria-label="Credit amount for ${esc(c.name)}" data-credit-amount>
            <input class="sm note" placeholder="Note (optional)" aria-label="Note" data-credit-note>
            <button class="btn-sm btn-accent" type="submit" data-credit-btn>Credit</button>
          </form></td>`;
      }
      existing.delete(id);
      tr.querySelector('[data-c="who"]').innerHTML = `<div class="fw-600">${esc(c.name)}</div><div class="dev-sub">${esc(c.email)}</div>`;
      tr.querySelector('[data-c="tag"]').textContent = c.idTag;
      tr.querySelector('[data-c="bal"]').textContent = fmt(c.walletBalance);
      const want = anchor ? anchor.nextSibling : body.firstChild;
      if (tr !== want) body.insertBefore(tr, want);
      anchor = tr;
    }
    for (const r of existing.values()) r.remove();
    if (!shown.length) body.insertAdjacentHTML('beforeend', `<tr><td colspan="5" class="empty">${list.length ? 'No customer matches the search.' : 'No customers yet.'}</td></tr>`);

    const customerOptions = list.map((c) => `<option value="${c.id}">${esc(c.name)} (${esc(c.email)})</option>`).join('');
    fillSelect($('filter-customer'), '<option value="">Any customer</option>' + customerOptions);
    fillSelect($('token-customer'), '<option value="">No customer</option>' + customerOptions);
    for (const sel of document.querySelectorAll('select[data-idtag]')) fillSelect(sel, idTagOptions());
  }

  $('customer-search').addEventListener('input', renderCustomers);

  $('customers-body').addEventListener('submit', async (ev) => {
    const form = ev.target.closest('form[data-credit]');
    if (!form) return;
    ev.preventDefault();
    const id = form.dataset.credit;
    const msg = $('credit-message');
    setMessage(msg, '');
    const amount = form.querySelector('[data-credit-amount]').value.trim();
    const note = form.querySelector('[data-credit-note]').value.trim();
    const body = { amount };
    if (note) body.note = note;
    await busy(form.querySelector('[data-credit-btn]'), '', async () => {
      try {
        const data = await api(`/api/admin/customers/${id}/wallet/credit`, { method: 'POST', body });
        const c = data.customer;
        setMessage(msg, `Credited ${fmt(amount)} to ${c.name}. New balance: ${fmt(c.walletBalance)}.`, 'success');
        form.reset();
        const i = state.customers.findIndex((x) => x.id === c.id);
        if (i >= 0) state.customers[i] = c;
        renderCustomers();
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
  });

  // ---------------------------------------------------------------- tokens (idTags)

  const TOKEN_STATUSES = ['Accepted', 'Blocked', 'Expired', 'Invalid'];
  const TOKEN_CHIP = { Accepted: 'ok', Blocked: 'bad', Expired: 'warn', Invalid: 'bad' };

  async function loadTokens() {
    try {
      const data = await api('/api/admin/id-tags');
      state.tokens = data.idTags || [];
      renderTokens();
    } catch (e) {
      if (!handleAuthError(e)) $('tokens-body').innerHTML = `<tr><td colspan="8"><div class="message error">${esc(e.message)}</div></td></tr>`;
    }
  }

  function customerCell(id) {
    if (id === null || id === undefined) return '<span class="muted">—</span>';
    const c = customerById(id);
    return c ? `<div class="fw-600">${esc(c.name)}</div><div class="dev-sub">${esc(c.email)}</div>` : `<span class="muted">#${esc(id)}</span>`;
  }

  function renderTokens() {
    const list = state.tokens;
    $('count-tokens').textContent = list.length;
    const q = $('token-search').value.trim().toLowerCase();
    const shown = q ? list.filter((t) => [t.idTag, t.parentIdTag, t.note].filter(Boolean).join(' ').toLowerCase().includes(q)) : list;
    const html = shown.length ? shown.map((t) => {
      const effective = t.effectiveStatus && t.effectiveStatus !== t.status
        ? `<div class="dev-sub text-warn" title="What a charger is told now">now ${esc(t.effectiveStatus)}</div>` : '';
      const expired = t.expiryDate && (parseTime(t.expiryDate) || 0) <= Date.now();
      return `<tr data-token="${esc(t.idTag)}" data-status="${esc(t.status)}" data-effective-status="${esc(t.effectiveStatus || t.status)}">
        <td class="mono fw-600 nowrap">${esc(t.idTag)}</td>
        <td><span class="chip ${TOKEN_CHIP[t.status] || 's-unknown'}" data-testid="token-status">${esc(t.status)}</span>${effective}</td>
        <td class="nowrap${expired ? ' text-warn' : ''}" title="${esc(t.expiryDate || '')}">${t.expiryDate ? esc(dateTime(t.expiryDate)) : '<span class="muted">never</span>'}</td>
        <td class="mono nowrap">${t.parentIdTag ? esc(t.parentIdTag) : '<span class="muted">—</span>'}</td>
        <td>${customerCell(t.customerId)}</td>
        <td class="small">${t.note ? esc(t.note) : '<span class="muted">—</span>'}</td>
        <td class="nowrap" title="${esc(t.updatedAt || t.createdAt)}">${esc(dateTime(t.updatedAt || t.createdAt))}</td>
        <td class="right"><div class="row-actions">
          <select class="sm" data-token-status aria-label="Status of ${esc(t.idTag)}">${TOKEN_STATUSES.map((x) => `<option${x === t.status ? ' selected' : ''}>${x}</option>`).join('')}</select>
          <button type="button" class="btn-sm btn-danger" data-token-delete="${esc(t.idTag)}">Delete</button>
        </div></td>
      </tr>`;
    }).join('') : `<tr><td colspan="8" class="empty">${list.length ? 'No token matches the search.' : 'No tokens yet. Create one above.'}</td></tr>`;
    const body = $('tokens-body');
    // not while the operator is using a status menu in the table
    const menuOpen = document.activeElement && document.activeElement.matches('select') && body.contains(document.activeElement);
    if (body.dataset.html !== html && !menuOpen) { body.innerHTML = html; body.dataset.html = html; }
    fillSelect($('reservation-idtag'), list.length
      ? list.map((t) => `<option value="${esc(t.idTag)}">${esc(t.idTag)}${t.effectiveStatus && t.effectiveStatus !== 'Accepted' ? ' · ' + esc(t.effectiveStatus) : ''}${t.note ? ' — ' + esc(t.note) : ''}</option>`).join('')
      : '<option value="">No tokens yet: create one in Tokens</option>');
  }

  $('token-search').addEventListener('input', renderTokens);

  $('token-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = $('token-message');
    setMessage(msg, '');
    const body = { idTag: $('token-idtag').value.trim(), status: $('token-status').value };
    const expiry = $('token-expiry').value;
    if (expiry) {
      const d = new Date(expiry); // datetime-local: the browser's local time
      if (Number.isNaN(d.getTime())) {
        setMessage(msg, 'Enter a valid expiry date and time, or leave it empty.', 'error');
        return;
      }
      body.expiryDate = d.toISOString();
    }
    const parent = $('token-parent').value.trim();
    if (parent) body.parentIdTag = parent;
    const customer = $('token-customer').value;
    if (customer) body.customerId = Number(customer);
    const note = $('token-note').value.trim();
    if (note) body.note = note;
    await busy($('token-btn'), 'Creating…', async () => {
      try {
        const data = await api('/api/admin/id-tags', { method: 'POST', body });
        const t = data.idTag;
        setMessage(msg, `Token ${t.idTag} created (${t.status}${t.expiryDate ? ', expires ' + dateTime(t.expiryDate) : ''}).`, 'success');
        $('token-form').reset();
        await loadTokens();
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
  });

  $('tokens-body').addEventListener('change', async (ev) => {
    const sel = ev.target.closest('[data-token-status]');
    if (!sel) return;
    const tag = sel.closest('tr').dataset.token;
    const msg = $('tokens-list-message');
    setMessage(msg, '');
    sel.disabled = true;
    try {
      const data = await api('/api/admin/id-tags/' + encodeURIComponent(tag), { method: 'PUT', body: { status: sel.value } });
      toast(`Token ${data.idTag.idTag} is now ${data.idTag.status}`);
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    } finally {
      sel.disabled = false;
      sel.blur();
      await loadTokens();
    }
  });

  $('tokens-body').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-token-delete]');
    if (!b) return;
    const tag = b.dataset.tokenDelete;
    if (!window.confirm(`Delete token ${tag}? Chargers will no longer accept it.`)) return;
    const msg = $('tokens-list-message');
    setMessage(msg, '');
    await busy(b, '', async () => {
      try {
        await api('/api/admin/id-tags/' + encodeURIComponent(tag), { method: 'DELETE' });
        toast(`Token ${tag} deleted`);
      } catch (e) {
        if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
      }
    });
    await loadTokens();
  });

  // ---------------------------------------------------------------- reservations

  const HOLDING = ['pending', 'active'];
  const RESERVATION_CHIP = {
    pending: 's-pending', active: 's-reserved', used: 'ok', cancelled: 's-unknown', expired: 's-unknown', refused: 'bad', failed: 'bad',
  };

  async function loadReservations() {
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

  /** "in 14 min", "in 2 h 5 min"; changes once a minute, so a refresh does not redraw the table every time. */
  function timeLeft(t) {
    const d = parseTime(t);
    if (!d) return '';
    const min = Math.ceil((d.getTime() - Date.now()) / 60000);
    if (min <= 0) return 'due now';
    return min < 60 ? `in ${min} min` : `in ${Math.floor(min / 60)} h ${min % 60} min`;
  }

  function renderReservations() {
    const list = state.reservations;
    $('count-reservations').textContent = list.filter((r) => HOLDING.includes(r.status)).length;
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
  function syncReservationConnectors() {
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

  // ---------------------------------------------------------------- sessions

  async function loadSessions() {
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

  // ---------------------------------------------------------------- write-offs

  const WRITE_OFFS_LIMIT = 200;

  async function loadWriteOffs() {
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
})();
