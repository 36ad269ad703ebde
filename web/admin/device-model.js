// csms operator console: an OCPP 2.0.1 station's device model (what its NotifyReport told csms),
// as a tree of components and their variables with a search box; each variable can be read from
// the station (GetVariables) and, when writable, set (SetVariables); "Get base report" asks the
// station for its whole inventory again (GetBaseReport FullInventory).

import { api, handleAuthError } from './core.js';

const { busy, esc } = CSMS;

/** deviceId -> the variables last loaded */
const models = new Map();

const scopeOf = (v) => [
  v.evseId >= 0 ? `EVSE ${v.evseId}` : '',
  v.connectorId >= 0 ? `connector ${v.connectorId}` : '',
].filter(Boolean).join(' · ');

const componentKey = (v) => `${v.component}|${v.componentInstance}|${v.evseId}|${v.connectorId}`;

/** The component and variable of a stored attribute, in 2.0.1 words (for Get/SetVariables). */
function target(v) {
  const component = { name: v.component };
  if (v.componentInstance) component.instance = v.componentInstance;
  if (v.evseId >= 0) {
    component.evse = { id: v.evseId };
    if (v.connectorId >= 0) component.evse.connectorId = v.connectorId;
  }
  const variable = { name: v.variable };
  if (v.variableInstance) variable.instance = v.variableInstance;
  return { component, variable, attributeType: v.attributeType };
}

function render(panel, deviceId) {
  const list = models.get(deviceId) || [];
  const q = (panel.querySelector('[data-dm-search]').value || '').trim().toLowerCase();
  const tree = panel.querySelector('[data-dm-tree]');
  const count = panel.querySelector('[data-dm-count]');
  if (!list.length) {
    tree.innerHTML = '<p class="muted small" data-dm-empty>No device model reported yet: send "Get base report".</p>';
    count.textContent = '';
    return;
  }
  const shown = list
    .map((v, i) => ({ v, i }))
    .filter(({ v }) => !q || `${v.component} ${v.componentInstance} ${v.variable} ${v.variableInstance} ${v.value ?? ''}`.toLowerCase().includes(q));
  const groups = new Map();
  for (const item of shown) {
    const k = componentKey(item.v);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(item);
  }
  count.textContent = `${shown.length} of ${list.length} attributes`;
  tree.innerHTML = [...groups.values()].map((items) => {
    const c = items[0].v;
    const name = `${c.component}${c.componentInstance ? ' (' + c.componentInstance + ')' : ''}`;
    const scope = scopeOf(c);
    const rows = items.map(({ v, i }) => {
      const writable = v.mutability !== 'ReadOnly';
      return `<tr data-dm-row="${i}" data-variable="${esc(v.component)}.${esc(v.variable)}">
        <td class="mono">${esc(v.variable)}${v.variableInstance ? ' (' + esc(v.variableInstance) + ')' : ''}${v.attributeType !== 'Actual' ? ' <span class="muted small">' + esc(v.attributeType) + '</span>' : ''}</td>
        <td class="mono" data-dm-value>${esc(v.value ?? '')}${v.unit ? ' <span class="muted small">' + esc(v.unit) + '</span>' : ''}</td>
        <td class="small muted">${esc(v.mutability || '')}${v.dataType ? ' · ' + esc(v.dataType) : ''}</td>
        <td class="right nowrap"><button type="button" class="btn-sm btn-ghost" data-dm-get="${i}">Get</button>
          ${writable ? `<input class="sm" data-dm-new="${i}" aria-label="New value of ${esc(v.variable)}" placeholder="new value">
          <button type="button" class="btn-sm" data-dm-set="${i}">Set</button>` : ''}
          <div class="small" data-dm-result="${i}"></div></td></tr>`;
    }).join('');
    return `<details class="dm-component" ${q ? 'open' : ''} data-component="${esc(c.component)}">
      <summary><span class="fw-650">${esc(name)}</span>${scope ? ' <span class="muted small">' + esc(scope) + '</span>' : ''}
        <span class="muted small">${items.length}</span></summary>
      <div class="config-table"><table><tbody>${rows}</tbody></table></div></details>`;
  }).join('') || '<p class="muted small">Nothing matches.</p>';
}

/** Loads and shows the device model in the detail row of `deviceId`. */
export async function loadDeviceModel(deviceId) {
  const panel = document.querySelector(`tr.detail[data-detail-for="${CSS.escape(deviceId)}"] [data-device-model]`);
  if (!panel) return;
  try {
    const data = await api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/variables`);
    models.set(deviceId, data.variables || []);
    panel.querySelector('[data-dm-message]').textContent = '';
  } catch (e) {
    if (handleAuthError(e)) return;
    panel.querySelector('[data-dm-message]').textContent = e.message;
  }
  render(panel, deviceId);
}

async function command(deviceId, action, body) {
  return api(`/api/admin/chargers/${encodeURIComponent(deviceId)}/commands/${action}`, { method: 'POST', body });
}

/** One item's result: the status, and the value or the reason when there is one. */
function itemResult(r) {
  if (!r) return { ok: false, text: 'no result' };
  const status = r.attributeStatus || 'Unknown';
  const ok = status === 'Accepted' || status === 'RebootRequired';
  const why = r.attributeStatusInfo?.reasonCode ? ` (${r.attributeStatusInfo.reasonCode})` : '';
  return { ok, text: r.attributeValue !== undefined ? `${status}: ${r.attributeValue}` : status + why };
}

function show(panel, i, { ok, text }) {
  const el = panel.querySelector(`[data-dm-result="${i}"]`);
  el.className = 'small ' + (ok ? 'text-ok' : 'text-danger');
  el.textContent = text;
}

document.addEventListener('input', (ev) => {
  const search = ev.target.closest('[data-dm-search]');
  if (!search) return;
  const panel = search.closest('[data-device-model]');
  render(panel, panel.dataset.deviceModel);
});

document.addEventListener('click', async (ev) => {
  const b = ev.target.closest('[data-dm-get], [data-dm-set], [data-dm-report], [data-dm-reload]');
  if (!b) return;
  const panel = b.closest('[data-device-model]');
  const deviceId = panel.dataset.deviceModel;
  const message = panel.querySelector('[data-dm-message]');
  if (b.hasAttribute('data-dm-reload')) {
    await busy(b, '', () => loadDeviceModel(deviceId));
    return;
  }
  if (b.hasAttribute('data-dm-report')) {
    await busy(b, '', async () => {
      try {
        const requestId = Math.floor(Math.random() * 1e9);
        const data = await command(deviceId, 'GetBaseReport', { requestId, reportBase: 'FullInventory' });
        const status = data.response?.status || 'no status';
        message.className = 'small ' + (status === 'Accepted' ? 'text-ok' : 'text-danger');
        message.textContent = `GetBaseReport FullInventory (request ${requestId}): ${status}`;
        // the station sends its NotifyReport after answering
        for (const wait of [1000, 3000]) {
          await new Promise((r) => setTimeout(r, wait));
          await loadDeviceModel(deviceId);
          message.textContent = `GetBaseReport FullInventory (request ${requestId}): ${status}`;
        }
      } catch (e) {
        if (handleAuthError(e)) return;
        message.className = 'small text-danger';
        message.textContent = e.message;
      }
    });
    return;
  }
  const i = Number(b.dataset.dmGet ?? b.dataset.dmSet);
  const v = (models.get(deviceId) || [])[i];
  if (!v) return;
  await busy(b, '', async () => {
    try {
      if (b.hasAttribute('data-dm-get')) {
        const data = await command(deviceId, 'GetVariables', { getVariableData: [target(v)] });
        show(panel, i, itemResult(data.response?.getVariableResult?.[0]));
      } else {
        const input = panel.querySelector(`[data-dm-new="${i}"]`);
        const value = input.value;
        if (value === '') {
          show(panel, i, { ok: false, text: 'Enter the new value first.' });
          input.focus();
          return;
        }
        const data = await command(deviceId, 'SetVariables', { setVariableData: [{ attributeValue: value, ...target(v) }] });
        const r = itemResult(data.response?.setVariableResult?.[0]);
        show(panel, i, r);
      }
    } catch (e) {
      if (handleAuthError(e)) return;
      show(panel, i, { ok: false, text: e.message });
    }
  });
});

/** The device model panel of a 2.0.1 station's detail row. */
export function deviceModelPanel(deviceId) {
  const d = esc(deviceId);
  return `<div class="device-model" data-device-model="${d}">
    <div class="card-head tight"><h3 class="subhead flush">Device model</h3>
      <div class="actions"><button type="button" class="btn-sm btn-ghost" data-dm-reload>Reload</button>
      <button type="button" class="btn-sm" data-dm-report>Get base report</button></div></div>
    <input class="sm wide" type="search" data-dm-search placeholder="Search components and variables" aria-label="Search the device model">
    <div class="small muted" data-dm-count></div>
    <div class="small" data-dm-message></div>
    <div data-dm-tree><p class="muted small">Loading…</p></div>
  </div>`;
}
