// csms — small helpers shared by the user panel and the operator console (no dependencies).
'use strict';

const CSMS = (() => {
  /** An API failure; `message` is the server's `error` text, shown to people verbatim. */
  class ApiError extends Error {
    constructor(message, status, body) {
      super(message);
      this.status = status;
      this.body = body;
    }
  }

  const NETWORK_ERROR = 'Could not reach the server. Check your connection and try again.';

  /**
   * Calls the JSON API. Resolves with the parsed body on 2xx; rejects with ApiError carrying the
   * server's `error` text otherwise.
   */
  async function request(path, { method = 'GET', body, raw, token, headers = {}, signal } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (raw !== undefined) h['Content-Type'] = 'application/octet-stream';
    else if (body !== undefined) h['Content-Type'] = 'application/json';
    if (token) h.Authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: h,
        // `raw`: a File / Blob / ArrayBuffer sent as it is (uploads)
        body: raw !== undefined ? raw : (body === undefined ? undefined : JSON.stringify(body)),
        signal,
        cache: 'no-store',
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(NETWORK_ERROR, 0, null);
    }
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!res.ok || (data && data.success === false)) {
      const msg = data && typeof data.error === 'string' && data.error
        ? data.error
        : `Request failed (HTTP ${res.status})`;
      throw new ApiError(msg, res.status, data);
    }
    return data || {};
  }

  /**
   * Downloads a file that needs the bearer token (a plain link cannot send it): fetches it and
   * offers the blob under `fileName`. Rejects with ApiError like `request`.
   */
  async function download(path, { token, fileName = 'download' } = {}) {
    let res;
    try {
      res = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
    } catch (_) {
      throw new ApiError(NETWORK_ERROR, 0, null);
    }
    if (!res.ok) {
      let data = null;
      try { data = await res.json(); } catch (_) { data = null; }
      throw new ApiError(data && data.error ? data.error : `Download failed (HTTP ${res.status})`, res.status, data);
    }
    const m = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '');
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = m ? m[1] : fileName;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    return a.download;
  }

  /** A random key for the Idempotency-Key header (works outside secure contexts too). */
  function randomKey() {
    if (window.crypto && typeof crypto.randomUUID === 'function') {
      try { return crypto.randomUUID(); } catch (_) { /* not a secure context */ }
    }
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  const SYMBOLS = { INR: '₹', USD: '$', EUR: '€', GBP: '£', JPY: '¥', AUD: 'A$', CAD: 'C$', SGD: 'S$', AED: 'AED ' };

  function currencySymbol(code) {
    const c = (code || 'INR').toUpperCase();
    return SYMBOLS[c] || c + ' ';
  }

  /** 50 → "₹50.00"; negative amounts get a leading minus ("-₹12.50"). */
  function money(amount, currency, { signed = false } = {}) {
    const n = Number(amount);
    if (amount === null || amount === undefined || amount === '' || !Number.isFinite(n)) return '—';
    const sign = n < 0 ? '-' : (signed && n > 0 ? '+' : '');
    return sign + currencySymbol(currency) + Math.abs(n).toFixed(2);
  }

  function kwh(v, digits = 3) {
    const n = Number(v);
    return Number.isFinite(n) ? n.toFixed(digits) : '—';
  }

  function esc(v) {
    return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  function parseTime(t) {
    if (!t) return null;
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function dateTime(t) {
    const d = parseTime(t);
    if (!d) return '—';
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    if (sameDay) return time;
    return d.toLocaleDateString([], { day: 'numeric', month: 'short', year: d.getFullYear() === today.getFullYear() ? undefined : 'numeric' }) + ', ' + time;
  }

  function ago(t) {
    const d = parseTime(t);
    if (!d) return '—';
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 0) return 'just now';
    if (s < 5) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  /** Seconds → "1:02:03" or "02:03". */
  function duration(totalSeconds) {
    const s = Math.max(0, Math.floor(totalSeconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    const mm = String(m).padStart(2, '0');
    const ss = String(sec).padStart(2, '0');
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  /** Pretty JSON with light syntax highlighting, as safe HTML. */
  function jsonHtml(value) {
    const text = JSON.stringify(value, null, 2) ?? 'null';
    return esc(text).replace(
      /(&quot;(?:\\.|(?!&quot;).)*&quot;)(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g,
      (m, str, colon, lit, num) => {
        if (str) return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
        if (lit) return `<span class="j-lit">${lit}</span>`;
        if (num) return `<span class="j-num">${num}</span>`;
        return m;
      },
    );
  }

  /** CSS class for an OCPP connector status or a session status chip. */
  function statusClass(status) {
    return 's-' + String(status || 'unknown').toLowerCase().replace(/[^a-z]/g, '');
  }

  function toast(text, kind = '') {
    let box = document.querySelector('.toasts');
    if (!box) {
      box = document.createElement('div');
      box.className = 'toasts';
      box.setAttribute('aria-live', 'polite');
      document.body.appendChild(box);
    }
    const t = document.createElement('div');
    t.className = 'toast ' + kind;
    t.textContent = text;
    box.appendChild(t);
    setTimeout(() => t.remove(), kind === 'error' ? 6000 : 3500);
  }

  /** Puts a spinner in a button while `fn` runs; returns fn's result. */
  async function busy(button, label, fn) {
    const old = button.innerHTML;
    button.disabled = true;
    button.innerHTML = `<span class="spinner" aria-hidden="true"></span>${esc(label)}`;
    try {
      return await fn();
    } finally {
      button.disabled = false;
      button.innerHTML = old;
    }
  }

  function setMessage(el, text, kind) {
    el.className = 'message' + (kind ? ' ' + kind : '');
    el.textContent = text || '';
  }

  return { ApiError, request, download, randomKey, money, currencySymbol, kwh, esc, dateTime, ago, duration, parseTime, jsonHtml, statusClass, toast, busy, setMessage };
})();
