// csms operator console: customers and wallet credits.

import { $, api, fillSelect, fmt, handleAuthError, setCurrency, state } from './core.js';
import { idTagOptions } from './chargers.js';
import { renderTokens } from './tokens.js';

const { busy, esc, setMessage } = CSMS;

export async function loadCustomers() {
  try {
    const data = await api('/api/admin/customers');
    setCurrency(data.currency);
    state.customers = data.customers || [];
    renderCustomers();
  } catch (e) {
    handleAuthError(e);
  }
}

function renderCustomers() {
  const list = state.customers;
  $('count-customers').textContent = list.length;
  $('stat-wallets').textContent = fmt(list.reduce((a, c) => a + (Number(c.walletBalance) || 0), 0));
  const q = $('customer-search').value.trim().toLowerCase();
  const shown = q ? list.filter((c) => (c.name + ' ' + c.email + ' ' + c.idTag).toLowerCase().includes(q)) : list;
  const body = $('customers-body');
  // rows are kept (so a half-typed credit amount survives a refresh); only their values change
  const existing = new Map([...body.querySelectorAll('tr[data-customer]')].map((r) => [r.dataset.customer, r]));
  body.querySelectorAll('tr:not([data-customer])').forEach((r) => r.remove());
  let anchor = null;
  for (const c of shown) {
    const id = String(c.id);
    let tr = existing.get(id);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.customer = id;
      tr.innerHTML = `<td class="muted">${c.id}</td><td data-c="who"></td><td class="mono" data-c="tag"></td>
        <td class="right num fw-650" data-c="bal"></td>
        <td><form class="credit-form" data-credit="${c.id}" novalidate>
          <input class="sm amt" inputmode="decimal" placeholder="Amount" aria-label="Credit amount for ${esc(c.name)}" data-credit-amount>
          <input class="sm note" placeholder="Note (optional)" aria-label="Note" data-credit-note>
          <button class="btn-sm btn-accent" type="submit" data-credit-btn>Credit</button>
        </form></td>`;
    }
    existing.delete(id);
    tr.querySelector('[data-c="who"]').innerHTML = `<div class="fw-600">${esc(c.name)}</div><div class="dev-sub">${esc(c.email)}</div>`;
    tr.querySelector('[data-c="tag"]').textContent = c.idTag;
    tr.querySelector('[data-c="bal"]').textContent = fmt(c.walletBalance);
    const want = anchor ? anchor.nextSibling : body.firstChild;
    if (tr !== want) body.insertBefore(tr, want);
    anchor = tr;
  }
  for (const r of existing.values()) r.remove();
  if (!shown.length) body.insertAdjacentHTML('beforeend', `<tr><td colspan="5" class="empty">${list.length ? 'No customer matches the search.' : 'No customers yet.'}</td></tr>`);

  const customerOptions = list.map((c) => `<option value="${c.id}">${esc(c.name)} (${esc(c.email)})</option>`).join('');
  fillSelect($('filter-customer'), '<option value="">Any customer</option>' + customerOptions);
  fillSelect($('token-customer'), '<option value="">No customer</option>' + customerOptions);
  for (const sel of document.querySelectorAll('select[data-idtag]')) fillSelect(sel, idTagOptions());
  renderTokens(); // customers' own idTags are listed with the tokens
}

$('customer-search').addEventListener('input', renderCustomers);

$('customers-body').addEventListener('submit', async (ev) => {
  const form = ev.target.closest('form[data-credit]');
  if (!form) return;
  ev.preventDefault();
  const id = form.dataset.credit;
  const msg = $('credit-message');
  setMessage(msg, '');
  const amount = form.querySelector('[data-credit-amount]').value.trim();
  const note = form.querySelector('[data-credit-note]').value.trim();
  const body = { amount };
  if (note) body.note = note;
  await busy(form.querySelector('[data-credit-btn]'), '', async () => {
    try {
      const data = await api(`/api/admin/customers/${id}/wallet/credit`, { method: 'POST', body });
      const c = data.customer;
      setMessage(msg, `Credited ${fmt(amount)} to ${c.name}. New balance: ${fmt(c.walletBalance)}.`, 'success');
      form.reset();
      const i = state.customers.findIndex((x) => x.id === c.id);
      if (i >= 0) state.customers[i] = c;
      renderCustomers();
    } catch (e) {
      if (!handleAuthError(e)) setMessage(msg, e.message, 'error');
    }
  });
});
