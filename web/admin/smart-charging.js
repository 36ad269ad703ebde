// csms operator console: a charger's charging profiles and composite schedule.

import { $, api, detailOf, handleAuthError, setHtml } from './core.js';

const { busy, dateTime, duration, esc, jsonHtml, parseTime, setMessage } = CSMS;

export function periodRow(start, limit) {
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

export async function loadProfiles(deviceId) {
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
  if (t.hasAttribute('data-sc-add-period')) {
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
  }
});
