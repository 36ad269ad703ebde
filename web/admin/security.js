// csms operator console: a charger's certificates, security logs and security events.

import { $, api, bytes, detailOf, handleAuthError, setHtml, state } from './core.js';
import { jobChip } from './maintenance.js';

const { busy, dateTime, download, esc, setMessage, toast } = CSMS;

// Certificates csms issued and the charger reported installed (with expiry), and security events
// (critical ones highlighted).
const shortSerial = (x) => (x && x.length > 12 ? x.slice(0, 12) + '…' : (x || ''));

export async function loadSecurity(deviceId) {
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

$('chargers-body').addEventListener('click', async (ev) => {
  const t = ev.target.closest('button');
  if (!t) return;
  const det = t.closest('tr.detail');
  if (!det) return;
  const d = det.dataset.detailFor;
  const enc = encodeURIComponent(d);
  if (t.hasAttribute('data-sec-cert') || t.hasAttribute('data-sec-log')) {
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
  }
});
