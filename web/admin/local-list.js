// csms operator console: a charger's Local Authorization List.

import { $, api, detailOf, handleAuthError, setHtml } from './core.js';

const { ago, busy, esc, setMessage } = CSMS;

export async function loadLocalList(deviceId) {
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
  // What the chip says. "Out of sync" only when the charger holds a list other than the one it
  // should: a charger that was never sent one (none wanted yet, or automatic sync off) is not an alarm.
  const never = !l.version && !l.lastStatus;
  const wanted = l.desiredEntries ?? 0;
  let chip;
  let kind;
  if (l.inSync) {
    chip = 'In sync'; kind = 'ok';
  } else if (never && wanted === 0) {
    chip = 'Nothing to send'; kind = 's-unknown';
  } else if (never && l.autoSync === false) {
    chip = 'Not sent: automatic sync off'; kind = 's-unknown';
  } else if (never) {
    chip = 'Not sent yet'; kind = 's-pending';
  } else {
    chip = 'Out of sync'; kind = 'warn';
  }
  const why = never && wanted === 0
    ? 'no token belongs on a local list yet (customers\' accepted cards never do)'
    : (never && l.autoSync === false ? 'lists go out only when you send them (CSMS_LOCAL_LIST_AUTO_SYNC=false)'
      : (never ? 'csms sends it by itself (after a token change, at a boot, or within 10 minutes), or when you sync' : ''));
  const parts = [
    `<span class="chip ${kind}" data-testid="local-list-sync" title="${esc(why)}">${esc(chip)}</span>`,
    `<span>version <strong data-testid="local-list-version">${esc(l.version ?? '—')}</strong>${l.chargerVersion !== null && l.chargerVersion !== undefined && l.chargerVersion !== l.version ? ` <span class="muted">(charger ${esc(l.chargerVersion)})</span>` : ''}</span>`,
    `<span>${esc(l.entries ?? 0)} entries${l.desiredEntries !== undefined && l.desiredEntries !== l.entries ? ` <span class="muted">(${esc(l.desiredEntries)} wanted)</span>` : ''}</span>`,
    l.lastStatus
      ? `<span class="muted">last: <span data-testid="local-list-status">${esc(l.lastStatus)}</span>${l.lastUpdate ? ' · ' + esc(l.lastUpdate) : ''}${l.syncedAt ? ' · ' + esc(ago(l.syncedAt)) : ''}</span>`
      : `<span class="muted" data-testid="local-list-note">${esc(why || 'never sent')}</span>`,
  ];
  setHtml(box.querySelector('[data-ll-state]'), parts.join('<span class="sep">·</span>'));
}

$('chargers-body').addEventListener('click', async (ev) => {
  const t = ev.target.closest('button');
  if (!t) return;
  const det = t.closest('tr.detail');
  if (!det) return;
  const d = det.dataset.detailFor;
  const enc = encodeURIComponent(d);
  if (t.hasAttribute('data-ll-sync') || t.hasAttribute('data-ll-full')) {
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
