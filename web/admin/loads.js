// csms operator console: station power limits and the live load.

import { $, api, handleAuthError, kw, setHtml, state, stationName } from './core.js';

const { busy, esc, setMessage } = CSMS;

export async function loadLoads() {
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
  const txs = l.transactions || [];
  // what the running transactions draw (each one's average power since it started)
  const drawing = txs.filter((t) => t.drawW !== null && t.drawW !== undefined);
  const drawW = drawing.reduce((a, t) => a + Number(t.drawW), 0);
  const inUse = drawing.length ? `${kw(drawW)} in use` : (txs.length ? 'no readings yet' : 'nothing running');
  const shares = txs.map((t) => {
    const limit = t.limitW === null || t.limitW === undefined
      ? (limited ? 'no limit yet' : 'no limit') : kw(t.limitW);
    const draw = t.drawW === null || t.drawW === undefined ? '' : ` · draws ${esc(kw(t.drawW))}`;
    return `<li><span class="dev-id">${esc(t.deviceId)}</span> #${esc(t.connectorId)} · tx ${esc(t.transactionId)}: <strong>${esc(limit)}</strong>${draw}</li>`;
  }).join('');
  const sessions = `${txs.length} transaction${txs.length === 1 ? '' : 's'}`;
  return {
    limit: limited ? `<span class="chip busy plain" data-testid="power-limit" title="${esc(l.maxPowerW)} W">${esc(kw(l.maxPowerW))}</span>`
      : '<span class="muted" data-testid="power-limit">no limit</span>',
    // With a limit: what the load profiles allow. Without one nothing is allocated: each charger
    // gives what it can, so say what is drawn instead of "0 kW".
    allocated: limited
      ? `<span class="num" data-testid="allocated" title="${esc(l.allocatedW)} W allowed by the load profiles">${esc(kw(l.allocatedW))}</span>${l.maxPowerW > 0 ? `<div class="dev-sub">${esc(Math.round((100 * l.allocatedW) / l.maxPowerW))}% of the limit</div>` : ''}<div class="dev-sub" data-testid="in-use">${esc(inUse)}</div>`
      : `<span data-testid="allocated" title="No power limit: no load profiles, each charger gives what it can">no limit: ${esc(inUse)}</span><div class="dev-sub" data-testid="in-use">${esc(sessions)}, each at its charger's own maximum</div>`,
    shares: shares ? `<ul class="shares">${shares}</ul>` : '<span class="muted">no transactions</span>',
  };
}

export function renderLoads() {
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
