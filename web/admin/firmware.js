// csms operator console: the firmware images csms hosts.

import { $, api, bytes, fillSelect, handleAuthError, state } from './core.js';

const { busy, dateTime, esc, setMessage } = CSMS;

export async function loadImages() {
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

export function imageOptions() {
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
