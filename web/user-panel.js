// csms — customer panel: account, wallet, stations, reservations, start/stop charging with live
// updates (SSE).
'use strict';

(() => {
  const { request, money, kwh, esc, dateTime, duration, parseTime, statusClass, toast, busy, setMessage, randomKey, currencySymbol } = CSMS;

  const TOKEN_KEY = 'csms.customerToken';
  const DISMISSED_KEY = 'csms.dismissedSession';
  const STOPPED_BY_ME_KEY = 'csms.stoppedByMe'; // sessions this browser asked to stop
  const OPEN = ['pending', 'active', 'stopping'];
  const TERMINAL = ['completed', 'failed'];
  const HOLDING = ['pending', 'active']; // reservation statuses that hold a connector
  const POLL_MS = 5000;

  const $ = (id) => document.getElementById(id);
  const ui = {
    authView: $('auth-view'), appView: $('app-view'), who: $('who'), whoName: $('who-name'), live: $('live'),
    tabLogin: $('tab-login'), tabRegister: $('tab-register'), loginForm: $('login-form'), registerForm: $('register-form'),
    authMessage: $('auth-message'), loginBtn: $('login-btn'), registerBtn: $('register-btn'), logoutBtn: $('logout-btn'),
    balance: $('balance'), profileName: $('profile-name'), profileIdTag: $('profile-idtag'),
    ledger: $('wallet-history'), walletMore: $('wallet-more'),
    stations: $('stations'), refreshStations: $('refresh-stations'), selection: $('selection'),
    amount: $('amount'), amountCur: $('amount-cur'), presets: $('presets'), startBtn: $('start-btn'), message: $('message'),
    card: $('session-card'), sTitle: $('session-title'), sWhere: $('session-where'), sStatus: $('session-status'),
    sEnergy: $('session-energy'), sCost: $('session-cost'), sElapsed: $('session-elapsed'), sRefund: $('session-refund'),
    sProgress: $('session-progress'), sProgressText: $('session-progress-text'), sPrepaid: $('session-prepaid'),
    sNote: $('session-note'), sId: $('session-id'), stopBtn: $('stop-btn'), dismissBtn: $('session-dismiss'),
    sessionsList: $('sessions-list'), sessionsMore: $('sessions-more'), sessionsCount: $('sessions-count'),
    reserveBtn: $('reserve-btn'), reserveMinutes: $('reserve-minutes'),
    rCard: $('reservation-card'), rWhere: $('reservation-where'), rStatus: $('reservation-status'),
    rCountdown: $('reservation-countdown'), rUntil: $('reservation-until'), rCancel: $('reservation-cancel'),
    rMessage: $('reservation-message'), startReason: $('start-reason'),
  };

  const state = {
    token: localStorage.getItem(TOKEN_KEY),
    customer: null,
    currency: 'INR',
    stations: [],
    stationsHtml: '',
    selected: null, // {deviceId, connectorId, chargingPointId}
    sessions: [],
    sessionsShown: 10,
    transactions: [],
    walletShown: 8,
    current: null, // the session shown in the card
    startMessageFor: null, // the session "Charging started successfully" is about
    reservation: null, // the customer's holding reservation (pending or active, not yet expired)
    es: null,
    esRetry: 1000,
    esTimer: null,
    esGen: 0,
    timers: [],
    walletReload: null,
  };

  // ---------------------------------------------------------------- helpers

  const api = (path, opts = {}) => request(path, { token: state.token, ...opts });

  /** A 401 means the token is gone or expired: back to the login form with the server's words. */
  function handleAuthError(e) {
    if (e && e.status === 401 && state.token) {
      logout(e.message);
      return true;
    }
    return false;
  }

  const fmt = (amount) => money(amount, state.currency);
  const isOpen = (s) => s && OPEN.includes(s.status);

  const CONNECTOR_LABELS = {
    Available: 'Available', Preparing: 'Preparing', Charging: 'Charging', SuspendedEV: 'Paused by car',
    SuspendedEVSE: 'Paused by charger', Finishing: 'Finishing', Reserved: 'Reserved', Unavailable: 'Unavailable', Faulted: 'Faulted',
  };

  /** What a wallet line is, in words (after its signed amount: "+₹10.00 top-up"). */
  const LEDGER_LABELS = {
    credit: 'top-up', charge_hold: 'charging (prepaid)', refund: 'refund of unused prepayment',
    adjustment: 'adjustment', charge: 'charging (beyond the prepayment)',
  };

  /**
   * Who or what ended a session, in words (OCPP's stop reasons are jargon to a driver). "Remote"
   * is csms asking the charger: the customer's own stop, the prepaid amount used up, or the
   * operator.
   */
  const STOP_WORDS = {
    Local: 'at the charger',
    EVDisconnected: 'when the car was unplugged',
    HardReset: 'when the charger restarted',
    SoftReset: 'when the charger restarted',
    Reboot: 'when the charger restarted',
    PowerLoss: 'by a power cut at the charger',
    EmergencyStop: "by the charger's emergency stop",
    DeAuthorized: 'because the card was no longer accepted',
    EnergyLimitReached: "at the charger's energy limit",
    UnlockCommand: 'when the connector was unlocked',
    ForceClosed: 'by the operator',
    Other: 'by the charger',
  };

  function stoppedByMe() {
    try { return JSON.parse(sessionStorage.getItem(STOPPED_BY_ME_KEY) || '[]'); } catch (_) { return []; }
  }

  function rememberStop(sessionId) {
    const ids = stoppedByMe().filter((x) => x !== sessionId).concat(sessionId).slice(-20);
    sessionStorage.setItem(STOPPED_BY_ME_KEY, JSON.stringify(ids));
  }

  function stopWords(s) {
    if (s.stopReason === 'Remote' || !s.stopReason) {
      const amount = Number(s.amount);
      if (Number.isFinite(amount) && amount > 0 && Number(s.cost) >= amount - 0.005) return 'when your prepaid amount ran out';
      if (stoppedByMe().includes(s.sessionId)) return 'by you';
      return s.stopReason ? 'remotely (from your account or by the operator)' : '';
    }
    return STOP_WORDS[s.stopReason] || 'by the charger';
  }

  // ---------------------------------------------------------------- auth

  function showAuth(message) {
    ui.appView.hidden = true;
    ui.who.hidden = true;
    ui.authView.hidden = false;
    if (message) setMessage(ui.authMessage, message, 'error');
  }

  function selectTab(register) {
    ui.tabLogin.setAttribute('aria-selected', String(!register));
    ui.tabRegister.setAttribute('aria-selected', String(register));
    ui.loginForm.hidden = register;
    ui.registerForm.hidden = !register;
    setMessage(ui.authMessage, '');
    (register ? $('register-name') : $('login-email')).focus();
  }

  ui.tabLogin.addEventListener('click', () => selectTab(false));
  ui.tabRegister.addEventListener('click', () => selectTab(true));

  ui.loginForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setMessage(ui.authMessage, '');
    await busy(ui.loginBtn, 'Logging in…', async () => {
      try {
        const data = await request('/api/customer/login', {
          method: 'POST',
          body: { email: $('login-email').value.trim(), password: $('login-password').value },
        });
        signedIn(data);
      } catch (e) {
        setMessage(ui.authMessage, e.message, 'error');
      }
    });
  });

  ui.registerForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setMessage(ui.authMessage, '');
    await busy(ui.registerBtn, 'Creating account…', async () => {
      try {
        const data = await request('/api/customer/register', {
          method: 'POST',
          body: { name: $('register-name').value.trim(), email: $('register-email').value.trim(), password: $('register-password').value },
        });
        signedIn(data);
        toast('Welcome! Your account is ready.');
      } catch (e) {
        setMessage(ui.authMessage, e.message, 'error');
      }
    });
  });

  function signedIn(data) {
    state.token = data.token;
    localStorage.setItem(TOKEN_KEY, data.token);
    $('login-password').value = '';
    $('register-password').value = '';
    setMessage(ui.authMessage, '');
    startApp(data.customer);
  }

  function logout(message) {
    stopLive();
    state.token = null;
    state.customer = null;
    state.current = null;
    state.selected = null;
    state.stationsHtml = '';
    localStorage.removeItem(TOKEN_KEY);
    state.sessions = [];
    state.transactions = [];
    state.reservation = null;
    ui.card.hidden = true;
    ui.rCard.hidden = true;
    ui.balance.textContent = '—';
    $('balance-pill').textContent = '';
    setMessage(ui.message, '');
    showAuth(message);
  }

  ui.logoutBtn.addEventListener('click', () => logout());

  // ---------------------------------------------------------------- app start

  async function startApp(customer) {
    ui.authView.hidden = true;
    ui.appView.hidden = false;
    ui.who.hidden = false;
    if (customer) renderProfile(customer);
    try {
      if (!customer) {
        const data = await api('/api/user/profile');
        renderProfile(data.customer);
      }
    } catch (e) {
      if (handleAuthError(e)) return;
      toast(e.message, 'error');
    }
    await Promise.allSettled([loadWallet(), loadReservations(), loadStations(), loadSessions(true)]);
    startLive();
  }

  function renderProfile(c) {
    state.customer = c;
    ui.whoName.textContent = c.name;
    ui.profileName.textContent = c.name;
    ui.profileIdTag.textContent = c.idTag;
    if (c.walletBalance !== undefined && ui.balance.textContent === '—') renderBalance(c.walletBalance);
  }

  function renderBalance(balance) {
    ui.balance.textContent = fmt(balance);
    ui.balance.dataset.amount = String(balance);
    $('balance-pill').textContent = fmt(balance);
  }

  function setCurrency(code) {
    if (code && code !== state.currency) {
      state.currency = code;
      ui.amountCur.textContent = currencySymbol(code).trim();
    }
  }

  // ---------------------------------------------------------------- wallet

  async function loadWallet() {
    try {
      const data = await api('/api/user/wallet');
      setCurrency(data.currency);
      renderBalance(data.balance);
      state.transactions = data.transactions || [];
      renderLedger();
    } catch (e) {
      if (!handleAuthError(e)) console.warn('wallet:', e.message);
    }
  }

  /** Wallet events come in bursts (hold + refund); reload the history once after them. */
  function reloadWalletSoon() {
    clearTimeout(state.walletReload);
    state.walletReload = setTimeout(loadWallet, 300);
  }

  function renderLedger() {
    const list = state.transactions;
    if (!list.length) {
      ui.ledger.innerHTML = '<li class="empty">No transactions yet. Ask the operator to top up your wallet.</li>';
      ui.walletMore.hidden = true;
      return;
    }
    ui.ledger.innerHTML = list.slice(0, state.walletShown).map((t) => {
      const amt = Number(t.amount);
      const incoming = amt > 0;
      const what = LEDGER_LABELS[t.type] || t.type;
      // "+₹10.00" / "−₹4.20" (a true minus sign), then what it was
      const signed = (incoming ? '+' : (amt < 0 ? '−' : '')) + money(Math.abs(amt), state.currency);
      const detail = [dateTime(t.createdAt), t.note, t.sessionId ? 'session ' + t.sessionId.slice(0, 8) : ''].filter(Boolean).join(' · ');
      return `<li data-type="${esc(t.type)}" data-testid="wallet-line">
        <span class="what"><span class="t"><span class="amt-inline ${incoming ? 'pos' : 'neg'}">${esc(signed)}</span> ${esc(what)}</span><span class="d">${esc(detail)}</span></span>
        <span class="after">balance ${esc(fmt(t.balanceAfter))}</span>
      </li>`;
    }).join('');
    ui.walletMore.hidden = list.length <= state.walletShown;
  }

  ui.walletMore.addEventListener('click', () => { state.walletShown += 10; renderLedger(); });

  // ---------------------------------------------------------------- stations & connectors

  async function loadStations() {
    try {
      const data = await api('/api/user/stations');
      setCurrency(data.currency);
      state.stations = data.stations || [];
      renderStations();
    } catch (e) {
      if (handleAuthError(e)) return;
      if (!state.stations.length) ui.stations.innerHTML = `<div class="message error">${esc(e.message)}</div>`;
    }
  }

  /** Whether the customer's own reservation holds connector `k` of `charger` (0: the whole charger). */
  function reservedByMe(charger, k) {
    const r = state.reservation;
    return !!r && r.deviceId === charger.deviceId && (r.connectorId === 0 || r.connectorId === k.connectorId);
  }

  function connectorChip(charger, k) {
    if (k.inUse) return '<span class="chip busy">In use</span>';
    if (!charger.online) return '<span class="chip s-unavailable">Offline</span>';
    if (reservedByMe(charger, k)) return '<span class="chip s-reserved mine" data-testid="reserved-by-you">Reserved by you</span>';
    const label = CONNECTOR_LABELS[k.status] || k.status || 'Unknown';
    const err = k.status === 'Faulted' && k.errorCode && k.errorCode !== 'NoError' ? ` · ${k.errorCode}` : '';
    return `<span class="chip ${statusClass(k.status)}">${esc(label + err)}</span>`;
  }

  function renderStations() {
    const sel = state.selected;
    let html;
    if (!state.stations.length) {
      html = '<div class="empty">No charging stations yet.</div>';
    } else {
      html = state.stations.map((st) => {
        const chargers = (st.chargers || []).map((ch) => {
          const conns = ch.connectors || [];
          const connHtml = conns.length
            ? conns.map((k) => {
              const pressed = sel && sel.deviceId === ch.deviceId && sel.connectorId === k.connectorId;
              const mine = reservedByMe(ch, k);
              const usable = ch.online && !k.inUse && (mine || ['Available', 'Preparing', 'Finishing', 'SuspendedEV', 'SuspendedEVSE'].includes(k.status));
              return `<button type="button" class="connector${usable ? '' : ' unavailable'}${mine ? ' mine' : ''}" aria-pressed="${pressed ? 'true' : 'false'}"
                  data-device="${esc(ch.deviceId)}" data-connector="${esc(k.connectorId)}" data-cp="${esc(ch.chargingPointId)}"
                  data-testid="connector-${esc(ch.deviceId)}-${esc(k.connectorId)}">
                  <span class="cn"><span class="plug" aria-hidden="true">${esc(k.connectorId)}</span>Connector ${esc(k.connectorId)}</span>
                  ${connectorChip(ch, k)}
                </button>`;
            }).join('')
            : '<div class="muted small">Waiting for the charger to report its connectors.</div>';
          return `<div class="charger" data-charger="${esc(ch.deviceId)}">
            <div class="charger-head">
              <div>
                <div class="charger-title">${esc(ch.name || ch.chargingPointId || ch.deviceId)}</div>
                <div class="charger-meta">
                  <span class="mono">${esc(ch.chargingPointId)}</span>
                  <span class="badge ${ch.online ? 'online' : 'offline'}">${ch.online ? 'Online' : 'Offline'}</span>
                </div>
              </div>
              <div class="price">${esc(fmt(ch.pricePerKwh))}<span class="muted small"> /kWh</span></div>
            </div>
            <div class="connectors">${connHtml}</div>
          </div>`;
        }).join('');
        return `<div class="station" data-station="${esc(st.id)}">
          <div class="station-head"><span class="station-name">${esc(st.name)}</span><span class="station-addr">${esc(st.address || '')}</span></div>
          ${chargers || '<div class="muted small mt-8">No chargers at this station yet.</div>'}
        </div>`;
      }).join('');
    }
    // Replace the DOM only when something changed, so clicks and focus are not disturbed.
    if (html !== state.stationsHtml) {
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('.connector');
      const key = focused ? focused.dataset.device + '|' + focused.dataset.connector : null;
      ui.stations.innerHTML = html;
      state.stationsHtml = html;
      if (key) {
        const [d, c] = key.split('|');
        const again = ui.stations.querySelector(`.connector[data-device="${CSS.escape(d)}"][data-connector="${CSS.escape(c)}"]`);
        if (again) again.focus();
      }
    }
    renderSelection();
  }

  function findCharger(deviceId) {
    for (const st of state.stations) {
      for (const ch of st.chargers || []) if (ch.deviceId === deviceId) return { station: st, charger: ch };
    }
    return null;
  }

  /** Why Start is off for the selected connector (reserved by someone else), or ''. */
  function startBlocked(sel, found) {
    if (!sel || !found) return '';
    const k = (found.charger.connectors || []).find((x) => x.connectorId === sel.connectorId);
    if (k && k.status === 'Reserved' && !k.inUse && !reservedByMe(found.charger, k)) {
      return 'This connector is reserved by another customer.';
    }
    return '';
  }

  /** Start is disabled, with the reason under it, on a connector another customer reserved (the
   * server refuses such a start anyway). */
  function syncStart(sel, found) {
    const why = startBlocked(sel, found);
    ui.startReason.textContent = why;
    ui.startReason.hidden = !why;
    if (!ui.startBtn.querySelector('.spinner')) ui.startBtn.disabled = !!why;
  }

  function renderSelection() {
    const sel = state.selected;
    if (!sel) {
      ui.selection.textContent = 'No connector selected yet — tap one above.';
      syncStart(null, null);
      return;
    }
    const found = findCharger(sel.deviceId);
    syncStart(sel, found);
    const price = found ? Number(found.charger.pricePerKwh) : NaN;
    const amount = Number(ui.amount.value);
    const est = Number.isFinite(price) && price > 0 && Number.isFinite(amount) && amount > 0
      ? ` · about <strong>${esc(kwh(amount / price, 1))} kWh</strong> for ${esc(fmt(amount))}` : '';
    const name = found ? (found.charger.name || found.charger.chargingPointId) : sel.deviceId;
    ui.selection.innerHTML = `Selected: <strong>${esc(name)}</strong> · connector <strong>${esc(sel.connectorId)}</strong>` +
      (found ? ` · ${esc(fmt(price))}/kWh` : '') + est;
  }

  ui.stations.addEventListener('click', (ev) => {
    const btn = ev.target.closest('.connector');
    if (!btn) return;
    state.selected = {
      deviceId: btn.dataset.device,
      connectorId: Number(btn.dataset.connector),
      chargingPointId: btn.dataset.cp || undefined,
    };
    for (const b of ui.stations.querySelectorAll('.connector')) {
      b.setAttribute('aria-pressed', String(b === btn));
    }
    // keep the cached HTML in sync with the pressed state so the next refresh does not flicker
    state.stationsHtml = ui.stations.innerHTML;
    renderSelection();
  });

  ui.refreshStations.addEventListener('click', () => busy(ui.refreshStations, 'Refreshing', loadStations));

  ui.amount.addEventListener('input', renderSelection);
  ui.presets.addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-preset]');
    if (!b) return;
    ui.amount.value = b.dataset.preset;
    renderSelection();
  });

  // ---------------------------------------------------------------- start / stop

  ui.startBtn.addEventListener('click', async () => {
    if (ui.startBtn.disabled) return;
    const sel = state.selected;
    if (!sel) {
      setMessage(ui.message, 'Choose a connector first.', 'error');
      return;
    }
    const amount = ui.amount.value.trim();
    setMessage(ui.message, '');
    state.startMessageFor = null;
    const key = randomKey(); // one key per click: a double submit of the same click cannot start twice
    await busy(ui.startBtn, 'Starting…', async () => {
      try {
        const body = { deviceId: sel.deviceId, connectorId: sel.connectorId, amount };
        if (sel.chargingPointId) body.chargingPointId = sel.chargingPointId;
        const data = await api('/api/user/charging/start', {
          method: 'POST',
          headers: { 'Idempotency-Key': key },
          body,
        });
        setMessage(ui.message, data.message || 'Charging started successfully', 'success');
        // the message is about this session: it goes once the session has ended
        state.startMessageFor = data.session ? data.session.sessionId : null;
        if (data.session) {
          showSession(data.session, { force: true });
          upsertSession(data.session);
          const r = ui.card.getBoundingClientRect();
          if (r.top < 0 || r.bottom > window.innerHeight) ui.card.scrollIntoView({ behavior: 'smooth', block: 'start' });
        }
      } catch (e) {
        if (handleAuthError(e)) return;
        setMessage(ui.message, e.message, 'error');
      }
    });
    renderSelection(); // busy() enabled Start again: re-apply why it may be off
    loadWallet();
    loadReservations(); // a start by the holder consumes their reservation
    loadStations();
    loadSessions();
  });

  ui.stopBtn.addEventListener('click', async () => {
    const s = state.current;
    if (!s || ui.stopBtn.disabled) return;
    setMessage(ui.sNote, '');
    await busy(ui.stopBtn, s.status === 'failed' ? 'Cancelling…' : 'Stopping…', async () => {
      try {
        rememberStop(s.sessionId);
        const data = await api('/api/user/charging/stop', { method: 'POST', body: { sessionId: s.sessionId } });
        if (data.session) {
          showSession(data.session, { force: true });
          upsertSession(data.session);
        }
        setMessage(ui.sNote, data.message || 'Stop requested', 'success');
      } catch (e) {
        if (handleAuthError(e)) return;
        setMessage(ui.sNote, e.message, 'error');
      }
    });
    renderSessionCard(); // busy() restored the button; re-apply its state for the new status
    loadWallet();
    loadStations();
  });

  ui.dismissBtn.addEventListener('click', () => {
    if (state.current) sessionStorage.setItem(DISMISSED_KEY, state.current.sessionId);
    state.current = null;
    ui.card.hidden = true;
  });

  // ---------------------------------------------------------------- reservations

  /** The customer's reservations; the newest one that still holds a connector goes in the box. */
  async function loadReservations() {
    try {
      const data = await api('/api/user/reservations');
      const now = Date.now();
      const holding = (data.reservations || []).find((r) => HOLDING.includes(r.status) && (parseTime(r.expiresAt) || 0) > now);
      setReservation(holding || null);
    } catch (e) {
      if (!handleAuthError(e)) console.warn('reservations:', e.message);
    }
  }

  function setReservation(r) {
    const before = state.reservation;
    state.reservation = r;
    renderReservation();
    // connector chips show "Reserved by you": redraw them when that changed
    const key = (x) => (x ? `${x.id}|${x.deviceId}|${x.connectorId}` : '');
    if (key(before) !== key(r)) renderStations();
  }

  function renderReservation() {
    const r = state.reservation;
    if (!r) {
      ui.rCard.hidden = true;
      delete ui.rCard.dataset.reservation;
      return;
    }
    if (ui.rCard.dataset.reservation !== String(r.id)) setMessage(ui.rMessage, '');
    ui.rCard.hidden = false;
    ui.rCard.dataset.reservation = String(r.id);
    ui.rCard.dataset.status = r.status;
    const found = findCharger(r.deviceId);
    const name = found ? (found.charger.name || found.charger.chargingPointId) : r.deviceId;
    ui.rWhere.textContent = `${name} · ${r.connectorId === 0 ? 'any connector' : 'connector ' + r.connectorId}`;
    ui.rStatus.textContent = r.status === 'pending' ? 'confirming…' : 'reserved';
    const until = parseTime(r.expiresAt);
    ui.rUntil.textContent = until
      ? `Held for you until ${until.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}. Start charging on it before then; nobody else can.`
      : '';
    tickReservation();
  }

  function tickReservation() {
    const r = state.reservation;
    if (!r) return;
    const left = ((parseTime(r.expiresAt) || new Date()) - Date.now()) / 1000;
    ui.rCountdown.textContent = duration(left);
    if (left <= 0) {
      // the server expires it; drop it here and ask again
      setReservation(null);
      toast('Your reservation has expired', 'error');
      loadReservations();
      loadStations();
    }
  }

  ui.reserveBtn.addEventListener('click', async () => {
    if (ui.reserveBtn.disabled) return;
    const sel = state.selected;
    if (!sel) {
      setMessage(ui.message, 'Choose a connector first.', 'error');
      return;
    }
    setMessage(ui.message, '');
    await busy(ui.reserveBtn, 'Reserving…', async () => {
      try {
        const body = { deviceId: sel.deviceId, connectorId: sel.connectorId, minutes: Number(ui.reserveMinutes.value) };
        if (sel.chargingPointId) body.chargingPointId = sel.chargingPointId;
        const data = await api('/api/user/reservations', { method: 'POST', body });
        const r = data.reservation;
        const until = r && parseTime(r.expiresAt);
        const found = findCharger(sel.deviceId);
        const where = found ? (found.charger.name || found.charger.chargingPointId || sel.deviceId) : sel.deviceId;
        setMessage(ui.message, `Connector ${sel.connectorId} is reserved for you` +
          (until ? ` until ${until.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}` : '') +
          ` on ${where}${found && found.station.name ? ' (' + found.station.name + ')' : ''}.`, 'success');
        if (r) setReservation(r);
      } catch (e) {
        if (handleAuthError(e)) return;
        setMessage(ui.message, e.message, 'error');
      }
    });
    loadReservations();
    loadStations();
  });

  ui.rCancel.addEventListener('click', async () => {
    const r = state.reservation;
    if (!r || ui.rCancel.disabled) return;
    setMessage(ui.rMessage, '');
    let done = false;
    await busy(ui.rCancel, 'Cancelling…', async () => {
      try {
        await api('/api/user/reservations/' + encodeURIComponent(r.id), { method: 'DELETE' });
        done = true;
      } catch (e) {
        if (handleAuthError(e)) return;
        setMessage(ui.rMessage, e.message, 'error');
      }
    });
    if (done) {
      setReservation(null);
      toast('Reservation cancelled');
    }
    loadReservations();
    loadStations();
  });

  // ---------------------------------------------------------------- session card

  const RANK = { pending: 0, active: 1, stopping: 2, completed: 3, failed: 3 };

  /**
   * Shows `s` in the live card. An update for the session already shown is applied unless it would
   * move a finished session back (late progress events); another session replaces the shown one only
   * when forced or when the shown one has finished.
   */
  function showSession(s, { force = false } = {}) {
    const cur = state.current;
    if (cur && cur.sessionId === s.sessionId) {
      if (TERMINAL.includes(cur.status) && !TERMINAL.includes(s.status)) return;
      if (RANK[s.status] < RANK[cur.status] && !(cur.status === 'stopping' && s.status === 'active')) return;
      state.current = { ...cur, ...s };
    } else if (force || !cur || !isOpen(cur)) {
      state.current = s;
    } else {
      return;
    }
    renderSessionCard();
  }

  /**
   * A live session's card goes on top; a finished one's goes below Start, compact, so that Start
   * stays in view (a phone's first screen included) while the summary is still there.
   */
  function placeSessionCard(finished) {
    const start = $('start-card');
    if (finished) {
      if (ui.card.previousElementSibling !== start) start.after(ui.card);
    } else if (ui.card.parentElement.firstElementChild !== ui.card) {
      ui.card.parentElement.prepend(ui.card);
    }
    ui.card.classList.toggle('compact', finished);
  }

  function renderSessionCard() {
    const s = state.current;
    if (!s) { ui.card.hidden = true; return; }
    ui.card.hidden = false;
    placeSessionCard(TERMINAL.includes(s.status));
    // "Charging started successfully" under Start belongs to a session that has ended now
    if (TERMINAL.includes(s.status) && state.startMessageFor === s.sessionId) {
      state.startMessageFor = null;
      if (ui.message.classList.contains('success')) setMessage(ui.message, '');
    }
    if (ui.card.dataset.sessionId !== s.sessionId) setMessage(ui.sNote, ''); // a note belongs to one session
    ui.card.dataset.sessionId = s.sessionId;
    ui.card.dataset.status = s.status;
    ui.card.classList.toggle('is-live', s.status === 'active');

    const titles = { pending: 'Starting your session…', active: 'Charging in progress', stopping: 'Stopping…', completed: 'Charging complete', failed: 'Charging could not start' };
    ui.sTitle.textContent = titles[s.status] || 'Charging session';
    const found = findCharger(s.deviceId);
    const name = found ? (found.charger.name || s.chargingPointId) : s.chargingPointId || s.deviceId;
    ui.sWhere.textContent = `${name} · connector ${s.connectorId} · ${fmt(s.pricePerKwh)}/kWh`;

    ui.sStatus.className = 'chip ' + statusClass(s.status);
    ui.sStatus.textContent = s.status;
    ui.sStatus.style.textTransform = 'capitalize';

    ui.sEnergy.textContent = kwh(s.energyKwh);
    ui.sCost.textContent = fmt(s.cost);
    ui.sRefund.textContent = s.refund === null || s.refund === undefined ? '—' : fmt(s.refund);
    ui.sRefund.closest('.metric').classList.toggle('hl', TERMINAL.includes(s.status));

    const amount = Number(s.amount) || 0;
    const cost = Number(s.cost) || 0;
    const pct = amount > 0 ? Math.min(100, (cost / amount) * 100) : 0;
    ui.sProgress.style.width = pct.toFixed(1) + '%';
    ui.sProgressText.textContent = `${fmt(cost)} of ${fmt(amount)} used`;
    ui.sPrepaid.textContent = `prepaid ${fmt(amount)}`;
    ui.sId.textContent = 'Session ' + s.sessionId + (s.transactionId ? ` · tx ${s.transactionId}` : '');

    if (s.status === 'failed' && s.resumable) {
      setMessage(ui.sNote, `The charger did not confirm the start (${s.failureReason || 'no answer'}); your prepayment was refunded. ` +
        'It may still begin when a car is plugged in, charging your wallet again: cancel the start if you will not charge now.', 'error');
    } else if (s.status === 'failed') {
      setMessage(ui.sNote, s.failureReason || s.reason || 'The charger did not start charging. Your prepayment was refunded.', 'error');
    } else if (s.status === 'completed') {
      const words = stopWords(s);
      setMessage(ui.sNote, `Charging stopped${words ? ' ' + words : ''}. ${s.refund > 0 ? fmt(s.refund) + ' was refunded to your wallet.' : ''}`.trim(), 'success');
    } else if (s.status === 'pending') {
      setMessage(ui.sNote, 'Waiting for the charger to start — plug in your car.', 'info');
    } else if (s.status === 'stopping') {
      setMessage(ui.sNote, 'Waiting for the charger to finish the session…', 'info');
    } else if (ui.sNote.classList.contains('info')) {
      setMessage(ui.sNote, '');
    }

    const open = isOpen(s);
    const cancellable = s.status === 'failed' && !!s.resumable;
    ui.stopBtn.hidden = !open && !cancellable;
    ui.stopBtn.textContent = cancellable ? 'Cancel start' : 'Stop charging';
    if (!ui.stopBtn.querySelector('.spinner')) ui.stopBtn.disabled = s.status === 'stopping';
    ui.dismissBtn.hidden = open;
    tickElapsed();
  }

  function tickElapsed() {
    const s = state.current;
    if (!s || ui.card.hidden) return;
    const from = parseTime(s.startedAt) || parseTime(s.createdAt);
    if (!from) { ui.sElapsed.textContent = '00:00'; return; }
    const to = parseTime(s.stoppedAt) || (isOpen(s) ? new Date() : from);
    ui.sElapsed.textContent = duration((to - from) / 1000);
  }

  // ---------------------------------------------------------------- sessions list

  async function loadSessions(first = false) {
    try {
      const data = await api('/api/user/charging/sessions');
      state.sessions = data.sessions || [];
      renderSessions();
      const open = state.sessions.find(isOpen);
      if (open) {
        showSession(open);
      } else if (first) {
        // show a session that ended in the last 10 minutes, unless it was dismissed
        const last = state.sessions[0];
        const ended = last && parseTime(last.stoppedAt);
        if (last && ended && Date.now() - ended < 10 * 60 * 1000 && sessionStorage.getItem(DISMISSED_KEY) !== last.sessionId) {
          showSession(last);
        }
      } else if (state.current) {
        const mine = state.sessions.find((x) => x.sessionId === state.current.sessionId);
        if (mine) showSession(mine);
      }
    } catch (e) {
      if (!handleAuthError(e)) console.warn('sessions:', e.message);
    }
  }

  function upsertSession(s) {
    if (TERMINAL.includes(s.status) && state.startMessageFor === s.sessionId) {
      state.startMessageFor = null;
      if (ui.message.classList.contains('success')) setMessage(ui.message, '');
    }
    const i = state.sessions.findIndex((x) => x.sessionId === s.sessionId);
    if (i >= 0) state.sessions[i] = { ...state.sessions[i], ...s };
    else state.sessions.unshift(s);
    renderSessions();
  }

  function renderSessions() {
    const list = state.sessions;
    ui.sessionsCount.textContent = list.length ? `${list.length} total` : '';
    if (!list.length) {
      ui.sessionsList.innerHTML = '<li class="empty">No sessions yet. Your charging history will appear here.</li>';
      ui.sessionsMore.hidden = true;
      return;
    }
    ui.sessionsList.innerHTML = list.slice(0, state.sessionsShown).map((s) => {
      const from = parseTime(s.startedAt);
      const to = parseTime(s.stoppedAt);
      const dur = from && to ? duration((to - from) / 1000) : '';
      const sub = [dateTime(s.createdAt), `${kwh(s.energyKwh)} kWh`, dur, s.failureReason].filter(Boolean).join(' · ');
      const refund = s.refund !== null && s.refund !== undefined && Number(s.refund) > 0 ? `<small>refund ${esc(fmt(s.refund))}</small>` : `<small>of ${esc(fmt(s.amount))}</small>`;
      return `<li data-session="${esc(s.sessionId)}">
        <span class="h-title">${esc(s.chargingPointId || s.deviceId)} · connector ${esc(s.connectorId)}
          <span class="chip capitalize ${statusClass(s.status)}">${esc(s.status)}</span></span>
        <span class="h-amt">${esc(fmt(s.cost))}${refund}</span>
        <span class="h-sub">${esc(sub)}</span>
      </li>`;
    }).join('');
    ui.sessionsMore.hidden = list.length <= state.sessionsShown;
  }

  ui.sessionsMore.addEventListener('click', () => { state.sessionsShown += 10; renderSessions(); });
  ui.sessionsList.addEventListener('click', (ev) => {
    const li = ev.target.closest('li[data-session]');
    if (!li) return;
    const s = state.sessions.find((x) => x.sessionId === li.dataset.session);
    if (s) {
      showSession(s, { force: true });
      ui.card.scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
  });

  // ---------------------------------------------------------------- live updates

  function setLive(kind, text) {
    ui.live.className = 'live ' + kind;
    ui.live.textContent = text;
  }

  function onChargingEvent(ev) {
    let data;
    try { data = JSON.parse(ev.data); } catch (_) { return; }
    const s = data && data.payload;
    if (!s || !s.sessionId) return;
    if (data.name === 'charging.failed' && s.reason && !s.failureReason) s.failureReason = s.reason;
    upsertSession(s);
    const cur = state.current;
    if ((cur && cur.sessionId === s.sessionId) || isOpen(s)) showSession(s);
    if (data.name !== 'charging.progress') {
      loadStations();
      if (data.name === 'charging.stopped') toast(`Charging stopped · ${kwh(s.energyKwh)} kWh · ${fmt(s.cost)}`);
      if (data.name === 'charging.failed') toast(s.failureReason || 'Charging could not start', 'error');
    }
  }

  function onWalletEvent(ev) {
    let data;
    try { data = JSON.parse(ev.data); } catch (_) { return; }
    const p = data && data.payload;
    if (!p) return;
    if (p.balance !== undefined) renderBalance(p.balance);
    if (data.name === 'wallet.credited') toast(`${fmt(p.amount)} added to your wallet`);
    if (data.name === 'wallet.refunded') toast(`${fmt(p.amount)} refunded to your wallet`);
    reloadWalletSoon();
  }

  /**
   * Opens the live event stream. EventSource cannot send the Authorization header, so every
   * (re)connect first asks for a short-lived ticket (POST /api/user/events/ticket) and puts that in
   * the URL, never the token itself.
   */
  async function connectEvents() {
    clearTimeout(state.esTimer);
    if (state.es) { state.es.close(); state.es = null; }
    const gen = ++state.esGen; // a later connect or stopLive() makes this one stale
    if (!state.token || typeof EventSource === 'undefined') { setLive('off', 'Polling'); return; }
    setLive('', 'Connecting…');
    let ticket;
    try {
      ticket = (await api('/api/user/events/ticket', { method: 'POST' })).ticket;
    } catch (e) {
      if (handleAuthError(e)) return;
      if (gen === state.esGen) retryEvents();
      return;
    }
    if (gen !== state.esGen || !state.token || !ticket) return;
    const es = new EventSource('/api/user/events?ticket=' + encodeURIComponent(ticket));
    state.es = es;
    es.onopen = () => {
      state.esRetry = 1000;
      setLive('on', 'Live');
      // catch up on anything missed while disconnected
      loadWallet();
      loadSessions();
    };
    es.onerror = () => {
      if (state.es !== es) return;
      // The browser would retry with the same URL, whose ticket expires within a minute: reconnect
      // here instead, with a new ticket (which also finds out whether the token still works).
      es.close();
      state.es = null;
      retryEvents();
    };
    for (const name of ['charging.started', 'charging.progress', 'charging.stopped', 'charging.failed']) {
      es.addEventListener(name, onChargingEvent);
    }
    for (const name of ['wallet.debited', 'wallet.refunded', 'wallet.credited']) {
      es.addEventListener(name, onWalletEvent);
    }
    for (const name of ['reservation.created', 'reservation.cancelled', 'reservation.restored']) {
      es.addEventListener(name, () => { loadReservations(); loadStations(); });
    }
  }

  /** Reconnects the event stream after a pause that doubles up to 30 s. */
  function retryEvents() {
    setLive('off', 'Reconnecting…');
    clearTimeout(state.esTimer);
    state.esTimer = setTimeout(() => { if (state.token) connectEvents(); }, state.esRetry);
    state.esRetry = Math.min(state.esRetry * 2, 30000);
  }

  /** Light polling as a fallback for SSE: the open session and stations every 5 s, the rest less often. */
  async function poll(n) {
    if (!state.token || document.hidden) return;
    const cur = state.current;
    if (cur && isOpen(cur)) {
      try {
        const data = await api('/api/user/charging/sessions/' + encodeURIComponent(cur.sessionId));
        if (data.session) { showSession(data.session); upsertSession(data.session); }
      } catch (e) {
        if (handleAuthError(e)) return;
      }
    }
    loadStations();
    loadReservations();
    const sseDown = !state.es || state.es.readyState !== EventSource.OPEN;
    if (sseDown || n % 3 === 0) {
      loadWallet();
      loadSessions();
    }
  }

  function startLive() {
    stopLive();
    connectEvents();
    let n = 0;
    state.timers.push(setInterval(() => poll(++n), POLL_MS));
    state.timers.push(setInterval(() => { tickElapsed(); tickReservation(); }, 1000));
  }

  function stopLive() {
    for (const t of state.timers) clearInterval(t);
    state.timers = [];
    clearTimeout(state.esTimer);
    state.esGen++;
    if (state.es) { state.es.close(); state.es = null; }
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.token) poll(0);
  });

  // ---------------------------------------------------------------- boot

  if (state.token) startApp(null);
  else showAuth();
})();
