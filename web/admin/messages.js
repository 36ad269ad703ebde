// csms operator console: the OCPP message log of a charger.

import { $, api, handleAuthError, state } from './core.js';

const { dateTime, esc, jsonHtml } = CSMS;

const MT = { 2: 'CALL', 3: 'RESULT', 4: 'ERROR' };

function payloadOf(frame) {
  if (!Array.isArray(frame)) return frame;
  if (frame[0] === 2) return frame[3];
  if (frame[0] === 3) return frame[2];
  if (frame[0] === 4) return { errorCode: frame[2], errorDescription: frame[3], errorDetails: frame[4] };
  return frame;
}

export async function loadLog(deviceId) {
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

export function refreshOpenLogs() {
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
