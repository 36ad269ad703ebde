// csms operator console: tokens (idTags).

import { $, api, customerCell, fillSelect, handleAuthError, state } from './core.js';

const { busy, dateTime, esc, parseTime, setMessage, toast } = CSMS;

const TOKEN_STATUSES = ['Accepted', 'Blocked', 'Expired', 'Invalid'];
const TOKEN_CHIP = { Accepted: 'ok', Blocked: 'bad', Expired: 'warn', Invalid: 'bad' };

export async function loadTokens() {
  try {
    const data = await api('/api/admin/id-tags');
    state.tokens = data.idTags || [];
    renderTokens();
  } catch (e) {
    if (!handleAuthError(e)) $('tokens-body').innerHTML = `<tr><td colspan="8"><div class="message error">${esc(e.message)}</div></td></tr>`;
  }
}

/** A customer's own idTag (app starts; cards may carry it too): listed with the tokens, read-only. */
function customerTagRow(c) {
  return `<tr class="customer-tag" data-customer-tag="${esc(c.idTag)}">
      <td class="mono fw-600 nowrap">${esc(c.idTag)}</td>
      <td><span class="chip s-unknown" data-testid="token-status" title="Accepted while the customer's wallet can pay">Customer account</span></td>
      <td><span class="muted">never</span></td>
      <td><span class="muted">—</span></td>
      <td>${customerCell(c.id)}</td>
      <td class="small muted">the customer's own idTag: their wallet pays (edit the customer, not here)</td>
      <td><span class="muted">—</span></td>
      <td></td>
    </tr>`;
}

export function renderTokens() {
  const list = state.tokens;
  const customers = state.customers.filter((c) => c.idTag);
  // the menu counts the rows of the list: tokens and customers' own idTags
  $('count-tokens').textContent = list.length + customers.length;
  const q = $('token-search').value.trim().toLowerCase();
  const shown = q ? list.filter((t) => [t.idTag, t.parentIdTag, t.note].filter(Boolean).join(' ').toLowerCase().includes(q)) : list;
  const shownCustomers = q ? customers.filter((c) => [c.idTag, c.name, c.email].join(' ').toLowerCase().includes(q)) : customers;
  const rows = shown.map((t) => {
    const effective = t.effectiveStatus && t.effectiveStatus !== t.status
      ? `<div class="dev-sub text-warn" title="What a charger is told now">now ${esc(t.effectiveStatus)}</div>` : '';
    const expired = t.expiryDate && (parseTime(t.expiryDate) || 0) <= Date.now();
    return `<tr data-token="${esc(t.idTag)}" data-status="${esc(t.status)}" data-effective-status="${esc(t.effectiveStatus || t.status)}">
      <td class="mono fw-600 nowrap">${esc(t.idTag)}${t.idTokenType ? `<div class="dev-sub" data-testid="token-type" title="Matches a 2.0.1 idToken of this type only">${esc(t.idTokenType)}</div>` : ''}</td>
      <td><span class="chip ${TOKEN_CHIP[t.status] || 's-unknown'}" data-testid="token-status">${esc(t.status)}</span>${effective}</td>
      <td class="nowrap${expired ? ' text-warn' : ''}" title="${esc(t.expiryDate || '')}">${t.expiryDate ? esc(dateTime(t.expiryDate)) : '<span class="muted">never</span>'}</td>
      <td class="mono nowrap">${t.parentIdTag ? esc(t.parentIdTag) : '<span class="muted">—</span>'}</td>
      <td>${customerCell(t.customerId)}</td>
      <td class="small">${t.note ? esc(t.note) : '<span class="muted">—</span>'}</td>
      <td class="nowrap" title="${esc(t.updatedAt || t.createdAt)}">${esc(dateTime(t.updatedAt || t.createdAt))}</td>
      <td class="right"><div class="row-actions">
        <select class="sm" data-token-status aria-label="Status of ${esc(t.idTag)}">${TOKEN_STATUSES.map((x) => `<option${x === t.status ? ' selected' : ''}>${x}</option>`).join('')}</select>
        <button type="button" class="btn-sm btn-danger" data-token-delete="${esc(t.idTag)}">Delete</button>
      </div></td>
    </tr>`;
  }).concat(shownCustomers.map(customerTagRow));
  const empty = list.length || customers.length ? 'No token matches the search.' : 'No tokens yet. Create one above.';
  const html = rows.length ? rows.join('') : `<tr><td colspan="8" class="empty">${empty}</td></tr>`;
  const body = $('tokens-body');
  // not while the operator is using a status menu in the table
  const menuOpen = document.activeElement && document.activeElement.matches('select') && body.contains(document.activeElement);
  if (body.dataset.html !== html && !menuOpen) { body.innerHTML = html; body.dataset.html = html; }
  // the reservation form holds a connector for a token, or for a customer's own idTag
  const tokenOptions = list.map((t) => `<option value="${esc(t.idTag)}">${esc(t.idTag)}${t.effectiveStatus && t.effectiveStatus !== 'Accepted' ? ' · ' + esc(t.effectiveStatus) : ''}${t.note ? ' — ' + esc(t.note) : ''}</option>`).join('');
  const customerOptions = customers.map((c) => `<option value="${esc(c.idTag)}">${esc(c.idTag)} — ${esc(c.name)}</option>`).join('');
  fillSelect($('reservation-idtag'), list.length || customers.length
    ? (tokenOptions ? `<optgroup label="Tokens">${tokenOptions}</optgroup>` : '')
      + (customerOptions ? `<optgroup label="Customers' own idTags">${customerOptions}</optgroup>` : '')
    : '<option value="">No tokens yet: create one in Tokens</option>');
}

$('token-search').addEventListener('input', renderTokens);

$('token-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('token-message');
  setMessage(msg, '');
  const body = { idTag: $('token-idtag').value.trim(), status: $('token-status').value };
  const expiry = $('token-expiry').value;
  if (expiry) {
    const d = new Date(expiry); // datetime-local: the browser's local time
    if (Number.isNaN(d.getTime())) {
      setMessage(msg, 'Enter a valid expiry date and time, or leave it empty.', 'error');
      return;
    }
    body.expiryDate = d.toISOString();
  }
  const parent = $('token-parent').value.trim();
  if (parent) body.parentIdTag = parent;
  const kind = $('token-type').value;
  if (kind) body.idTokenType = kind;
  const customer = $('token-customer').value;
  if (customer) body.customerId = Number(customer);
  const note = $('token-note').value.trim();
  if (note) body.note = note;
  await busy($('token-btn'), 'Creating…', async () => {
    try {
      const data = await api('/api/admin/id-tags', { method: 'POST', body });
      const t = data.idTag;
      setMessage(msg, `Token ${t.idTag} created (${t.status}${t.expiryDate ? ', expires ' + dateTime(t.expiryDate) : ''}).`, 'success');
      $('token-form').reset();
      await loadTokens();
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
});

$('tokens-body').addEventListener('change', async (ev) => {
  const sel = ev.target.closest('[data-token-status]');
  if (!sel) return;
  const tag = sel.closest('tr').dataset.token;
  const msg = $('tokens-list-message');
  setMessage(msg, '');
  sel.disabled = true;
  try {
    const data = await api('/api/admin/id-tags/' + encodeURIComponent(tag), { method: 'PUT', body: { status: sel.value } });
    toast(`Token ${data.idTag.idTag} is now ${data.idTag.status}`);
  } catch (e) {
    if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
  } finally {
    sel.disabled = false;
    sel.blur();
    await loadTokens();
  }
});

$('tokens-body').addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-token-delete]');
  if (!b) return;
  const tag = b.dataset.tokenDelete;
  if (!window.confirm(`Delete token ${tag}? Chargers will no longer accept it.`)) return;
  const msg = $('tokens-list-message');
  setMessage(msg, '');
  await busy(b, '', async () => {
    try {
      await api('/api/admin/id-tags/' + encodeURIComponent(tag), { method: 'DELETE' });
      toast(`Token ${tag} deleted`);
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
  await loadTokens();
});
