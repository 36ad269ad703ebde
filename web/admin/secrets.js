// csms operator console: charger passwords csms generated, shown once (copy, dismiss).

const { esc, toast } = CSMS;

/**
 * Shows a charger password that csms generated. The API returns it once (only a salted hash is
 * stored), so it stays on screen until the operator dismisses it or leaves the page.
 */
export function showSecret(box, deviceId, password) {
  box.innerHTML = `<div class="secret-head"><strong>OCPP password for <span class="dev-id">${esc(deviceId)}</span></strong>
      <button type="button" class="btn-sm btn-ghost" data-secret-dismiss>Done</button></div>
    <div class="secret-value"><code data-testid="secret-value">${esc(password)}</code>
      <button type="button" class="btn-sm" data-secret-copy>Copy</button></div>
    <div class="secret-note">It will not be shown again: csms keeps only a hash of it. Configure the charger with it now
      (HTTP Basic auth, user <span class="mono">${esc(deviceId)}</span>).</div>`;
  box.hidden = false;
}

export function hideSecret(box) {
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
