// csms operator console: a charger's firmware updates and diagnostics (jobs).

import { $, api, bytes, detailOf, handleAuthError, setHtml, state } from './core.js';
import { loadLocalList } from './local-list.js';
import { loadSecurity } from './security.js';
import { loadProfiles } from './smart-charging.js';

const { busy, dateTime, download, esc, setMessage, toast } = CSMS;

const JOB_DONE = /^(Installed|DownloadFailed|InstallationFailed|Uploaded|UploadFailed|Idle|Failed)/;

export function refreshOpenPanels() {
  for (const d of state.open) {
    const jobs = state.jobs.get(d);
    if (!jobs || jobs.some((j) => !JOB_DONE.test(j.status))) loadJobs(d); // poll while one is in progress
    loadSecurity(d);
    loadProfiles(d);
    loadLocalList(d);
  }
}

export function jobChip(status) {
  const cls = /^(Installed|Uploaded)$/.test(status) ? 'ok' : (/Failed/.test(status) ? 'bad' : (status === 'Idle' ? 's-unknown' : 'busy'));
  return `<span class="chip ${cls}" data-testid="job-status">${esc(status)}</span>`;
}

export async function loadJobs(deviceId) {
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
  } else if (t.hasAttribute('data-job-file')) {
    await busy(t, '', async () => {
      try {
        await download(`/api/admin/maintenance/${encodeURIComponent(t.dataset.jobFile)}/file`, { token: state.token, fileName: t.dataset.fileName });
      } catch (e) {
        if (!handleAuthError(e)) toast(e.message, 'error');
      }
    });
  }
});
