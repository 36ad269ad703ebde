// csms operator console: OCPP commands from the Manage row and the charger's security settings.

import { $, api, handleAuthError, state } from './core.js';
import { loadChargers, syncPasswordInput, toggleDetail } from './chargers.js';
import { loadLog } from './messages.js';
import { hideSecret, showSecret } from './secrets.js';
import { loadTariffs } from './tariffs.js';

const { busy, esc, jsonHtml, setMessage, toast } = CSMS;

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

/** A 2.0.1 command as the operator wrote it: its action and JSON payload, or an error. */
function givenCommand(scope) {
  const action = scope.querySelector('[data-given-action]').value;
  const text = scope.querySelector('[data-given-payload]').value.trim();
  try {
    const payload = text ? JSON.parse(text) : {};
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { action, error: 'The payload must be a JSON object.' };
    return { action, payload };
  } catch (e) {
    return { action, error: `The payload is not valid JSON: ${e.message}` };
  }
}

async function runCommand(button) {
  let action = button.dataset.action;
  const deviceId = button.dataset.device;
  const scope = button.closest('tr');
  let payload;
  if (action === 'Given201') {
    const given = givenCommand(scope);
    action = given.action;
    if (given.error) {
      showCommandResult('error', deviceId, action, given.error);
      return;
    }
    payload = given.payload;
  } else {
    payload = commandPayload(action, scope);
  }
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
