//! The world a conformance case runs in.
//!
//! **Isolated** (one test per case id): a fresh server, and a charger registered for the case and
//! named after its id without underscores (`TC_004_1` → `TC0041`), as before.
//!
//! **Shared** (the back-to-back run, `back_to_back`): one server and ONE charge point identity
//! ([`SHARED_DEVICE`]) for every case, nothing reset in between — as a compliance tool runs the
//! cases. Each case connects a new simulator (the tool's charge point reconnecting) with whatever
//! the identity currently needs: its password (TC_073 rotates it), its transport (TC_083 moves it to
//! `wss://`) and its client certificate (TC_087 moves it to security profile 3). Whatever a case
//! left behind in csms (an open transaction, a list version, a reservation, a profile) is still
//! there for the next. Assertions that would count things across the whole database count from
//! the case's start instead ([`Ctx::new_transactions`], [`Ctx::log`], [`Ctx::new_sessions`]).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csms::simulator::{SimConfig, Simulator};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Customer, TestApp, TestPki};

/// The one charge point identity of the back-to-back run.
pub const SHARED_DEVICE: &str = "OCTT-CP";
/// Its connectors (a charge point has a fixed number; the cases use 1 and 2).
const SHARED_CONNECTORS: u32 = 2;

/// What the shared identity needs to connect, as the charge point itself knows it: carried from
/// one case to the next (taken from the last simulator a case connected).
#[derive(Clone, Debug)]
struct Credentials {
    url: String,
    password: Option<String>,
    ca_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

/// The shared charge point identity of a back-to-back run.
pub struct Identity {
    creds: Mutex<Credentials>,
}

impl Identity {
    /// Registers [`SHARED_DEVICE`] (security profile 1, a password csms generates) on `app`.
    pub async fn provision(app: &TestApp) -> Arc<Identity> {
        app.register_charger(SHARED_DEVICE, None).await;
        let ca_cert = app.settings.ocpp_tls_client_ca.as_ref().map(|_| {
            let pki = TestPki::of(app);
            pki.ca_cert()
        });
        Arc::new(Identity {
            creds: Mutex::new(Credentials {
                url: app.ocpp.clone(),
                password: app.password(SHARED_DEVICE),
                ca_cert,
                client_cert: None,
                client_key: None,
            }),
        })
    }

    fn creds(&self) -> Credentials {
        self.creds.lock().unwrap().clone()
    }

    /// The charge point keeps what its last connection used (a rotated password, `wss://`, a
    /// client certificate).
    fn adopt(&self, cfg: &SimConfig) {
        *self.creds.lock().unwrap() = Credentials {
            url: cfg.url.clone(),
            password: cfg.password.clone(),
            ca_cert: cfg.ca_cert.clone(),
            client_cert: cfg.client_cert.clone(),
            client_key: cfg.client_key.clone(),
        };
    }
}

/// Where a case starts from in csms's records (all zero / empty when isolated).
#[derive(Default)]
struct Mark {
    /// The newest message-log row of the charger.
    message: i64,
    /// The newest transaction id.
    transaction: i64,
    /// The charger's sessions.
    sessions: HashSet<String>,
}

pub struct Inner {
    pub app: Arc<TestApp>,
    /// An operator token.
    pub admin: String,
    /// The case id, e.g. `TC_004_1`.
    pub id: &'static str,
    device: String,
    identity: Option<Arc<Identity>>,
    mark: Mark,
    /// The simulators this case connected (disconnected when it ends, in a shared run).
    sims: Mutex<Vec<Simulator>>,
    emails: std::sync::atomic::AtomicUsize,
}

/// A case's context; cheap to clone.
#[derive(Clone)]
pub struct Ctx(Arc<Inner>);

impl std::ops::Deref for Ctx {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Ctx {
    /// A fresh world for one case: the charger is named after the case id.
    pub async fn isolated(app: TestApp, id: &'static str) -> Ctx {
        let admin = app.admin().await;
        Ctx(Arc::new(Inner {
            app: Arc::new(app),
            admin,
            id,
            device: id.replace('_', ""),
            identity: None,
            mark: Mark::default(),
            sims: Mutex::default(),
            emails: Default::default(),
        }))
    }

    /// The next case of a back-to-back run on `app` with the shared identity (the previous case's
    /// simulators are gone: see [`Ctx::finish`]).
    pub async fn shared(
        app: Arc<TestApp>,
        admin: String,
        identity: Arc<Identity>,
        id: &'static str,
    ) -> Ctx {
        let device = SHARED_DEVICE.to_string();
        let transaction = app
            .db(move |c| {
                use csms::infra::db::schema::ocpp_transactions as t;
                t::table
                    .select(diesel::dsl::max(t::id))
                    .first::<Option<i64>>(c)
                    .unwrap()
                    .unwrap_or(0)
            })
            .await;
        let (_, newest) = app
            .get(
                &format!("/api/admin/chargers/{device}/messages?limit=1"),
                Some(&admin),
            )
            .await;
        let message = newest["messages"][0]["id"].as_i64().unwrap_or(0);
        let sessions = sessions_of(&app, &admin, &device)
            .await
            .into_iter()
            .map(|s| s["sessionId"].as_str().unwrap_or_default().to_string())
            .collect();
        Ctx(Arc::new(Inner {
            app,
            admin,
            id,
            device,
            identity: Some(identity),
            mark: Mark {
                message,
                transaction,
                sessions,
            },
            sims: Mutex::default(),
            emails: Default::default(),
        }))
    }

    /// The chargeBoxId of this case's charge point (for URLs and payloads).
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Whether this case runs back to back with the others.
    pub fn is_shared(&self) -> bool {
        self.identity.is_some()
    }

    /// Whether the case stops the transaction its flow ends with. The case document ends TC_004_1,
    /// TC_007, TC_010, TC_011_1, TC_046, TC_049, TC_053 and TC_057 with the transaction running: a
    /// tool leaves it so and moves on (issue 20, item 3), and so does the back-to-back run.
    /// Isolated, the case stops it (and checks the stop).
    pub fn stops_its_transaction(&self) -> bool {
        !self.is_shared()
    }

    /// Registers the case's charger (isolated; security profile 1, a generated password). In a
    /// shared run the identity exists already, as it is.
    pub async fn register(&self) {
        if !self.is_shared() {
            self.app.register_charger(&self.device, None).await;
        }
    }

    /// Registers the case's charger with these fields (isolated only; see [`Ctx::register`]).
    pub async fn register_with(&self, body: Value) {
        if !self.is_shared() {
            self.app.register_charger_with(&self.device, body).await;
        }
    }

    /// A simulator configuration for the case's charge point: isolated, `ws://` with the
    /// registered password and `connectors`; shared, whatever the identity uses now, with the
    /// `wss://` address and the CA it would move to on a SecurityProfile upgrade, and always the
    /// identity's own [`SHARED_CONNECTORS`].
    pub fn sim_config(&self, connectors: u32) -> SimConfig {
        let Some(identity) = &self.identity else {
            return self.app.sim_config(&self.device, connectors);
        };
        let c = identity.creds();
        let mut cfg = SimConfig::new(c.url, &self.device, SHARED_CONNECTORS);
        cfg.password = c.password;
        cfg.ca_cert = c.ca_cert;
        cfg.client_cert = c.client_cert;
        cfg.client_key = c.client_key;
        cfg.tls_url = self.app.wss.clone();
        cfg
    }

    fn track(&self, sim: &Simulator) {
        self.sims.lock().unwrap().push(sim.clone());
    }

    /// Connects a simulator with `cfg` and boots it (see [`Ctx::boot`]), once csms has it online.
    pub async fn connect(&self, cfg: SimConfig) -> Simulator {
        let sim = self.connect_only(cfg).await;
        self.boot(&sim).await;
        sim
    }

    /// Opens the WebSocket without sending anything.
    pub async fn connect_only(&self, cfg: SimConfig) -> Simulator {
        let sim = Simulator::connect_only(cfg)
            .await
            .expect("simulator connects");
        self.track(&sim);
        sim
    }

    /// The boot a case begins with. Isolated: BootNotification and every connector reported
    /// Available (the simulator's own boot). Back to back, as a tool's charge point begins a case:
    /// BootNotification and a StatusNotification for connector 0 only; a connector's status is
    /// reported where the case's own steps report it. So csms is not told that a connector is free
    /// again, and what an earlier case left open there stays open for the next (csms settles
    /// transactions left open across a reboot only once the connector is reported Available or
    /// Preparing). This is how issue 20 saw the tool's run: csms's list update at connect ran (a
    /// boot), and stale transactions lasted for the rest of the run (no status after it).
    pub async fn boot(&self, sim: &Simulator) {
        if self.is_shared() {
            let boot = sim
                .call(
                    "BootNotification",
                    json!({"chargePointVendor": "OCA", "chargePointModel": "OCTT"}),
                )
                .await
                .expect("BootNotification");
            assert_eq!(boot["status"], "Accepted", "{boot}");
            sim.status(0, "Available")
                .await
                .expect("StatusNotification");
        } else {
            sim.boot().await.expect("boot");
        }
        let device = self.device.clone();
        self.app
            .wait_until(|| self.app.state.registry.is_online(&device))
            .await;
    }

    /// Registers (isolated) and connects the case's charge point, booted with its connectors
    /// reported Available.
    pub async fn charger(&self, connectors: u32) -> Simulator {
        self.register().await;
        self.connect(self.sim_config(connectors)).await
    }

    /// As [`Ctx::charger`], with `prepare` applied before it boots (the charge point of the case
    /// behaves so from the start, also towards csms's own requests at connect).
    pub async fn charger_with(
        &self,
        connectors: u32,
        prepare: impl FnOnce(&Simulator),
    ) -> Simulator {
        self.register().await;
        let sim = self.connect_only(self.sim_config(connectors)).await;
        prepare(&sim);
        self.boot(&sim).await;
        sim
    }

    /// As [`Ctx::charger`], answering `action` with `answer` from the start.
    pub async fn charger_answering(
        &self,
        connectors: u32,
        action: &str,
        answer: Value,
    ) -> Simulator {
        self.charger_with(connectors, |sim| sim.set_answer(action, Some(answer)))
            .await
    }

    /// A new customer with a wallet of `balance` (an email unique to the case).
    pub async fn customer(&self, balance: f64) -> Customer {
        let n = self
            .emails
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let email = format!("{}-{n}@example.com", self.id.to_lowercase());
        self.app.customer(&email, balance).await
    }

    /// Whether the case goes on to show, through the customer path, that the connector is free
    /// (a check of csms's own, not the tool's). Back to back the connector may still carry a
    /// transaction an earlier case never stopped, which only the charger can end (or the orphan
    /// rules, after `CSMS_ORPHAN_GRACE_SECS`), so the check is left out there.
    pub fn customer_may_start(&self) -> bool {
        !self.is_shared()
    }

    /// An operator command to the case's charger: 200 and the charger's (schema-checked) answer.
    pub async fn cmd(&self, action: &str, body: Value) -> Value {
        crate::cmd(&self.app, &self.admin, &self.device, action, body).await
    }

    /// The tokens the test tool expects the central system to know (once per server).
    pub async fn tokens(&self) {
        crate::tokens(&self.app, &self.admin).await
    }

    /// Waits until csms shows `connector` of the case's charger with `status`.
    pub async fn wait_connector(&self, connector: i64, status: &str) {
        let path = format!("/api/admin/chargers/{}", self.device);
        for _ in 0..300 {
            let (_, b) = self.app.get(&path, Some(&self.admin)).await;
            let shown = b["charger"]["connectors"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["connectorId"] == connector && c["status"] == status);
            if shown {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{}: connector {connector} never shown {status}",
            self.device
        );
    }

    /// Transactions csms recorded since the case began.
    pub async fn new_transactions(&self) -> i64 {
        let mark = self.mark.transaction;
        self.app
            .db(move |c| {
                use csms::infra::db::schema::ocpp_transactions as t;
                t::table
                    .filter(t::id.gt(mark))
                    .count()
                    .get_result::<i64>(c)
                    .unwrap()
            })
            .await
    }

    /// The charger's sessions that began during the case (newest first).
    pub async fn new_sessions(&self) -> Vec<Value> {
        sessions_of(&self.app, &self.admin, &self.device)
            .await
            .into_iter()
            .filter(|s| {
                !self
                    .mark
                    .sessions
                    .contains(s["sessionId"].as_str().unwrap_or_default())
            })
            .collect()
    }

    /// The session of transaction `tx`.
    pub async fn session_of(&self, tx: i64) -> Value {
        let all = sessions_of(&self.app, &self.admin, &self.device).await;
        let mine: Vec<&Value> = all.iter().filter(|s| s["transactionId"] == tx).collect();
        assert_eq!(mine.len(), 1, "one session for transaction {tx}: {all:?}");
        mine[0].clone()
    }

    /// The charger's message log since the case began (oldest first): (direction, action, frame).
    pub async fn log(&self) -> Vec<(String, String, Value)> {
        crate::log_since(&self.app, &self.admin, &self.device, self.mark.message).await
    }

    /// Whether csms answered (CALLRESULT), during this case, a charger's `action` whose payload
    /// has `field` = `value`.
    pub async fn answered(&self, action: &str, field: &str, value: &str) -> bool {
        crate::answered_in(&self.log().await, action, field, value)
    }

    /// How many `action` CALLs the charger sent during this case.
    pub async fn received_from_charger(&self, action: &str) -> usize {
        self.log()
            .await
            .iter()
            .filter(|(d, a, f)| d == "in" && a == action && f[0] == 2)
            .count()
    }

    /// Shared run: the case's charge point goes away (as the tool's does between cases) and the
    /// identity keeps what its last connection used. Nothing in csms is reset.
    pub async fn finish(&self) {
        let Some(identity) = &self.identity else {
            return;
        };
        let sims: Vec<Simulator> = std::mem::take(&mut *self.sims.lock().unwrap());
        if let Some(last) = sims.last() {
            identity.adopt(&last.config());
        }
        for sim in &sims {
            sim.disconnect().await;
            let _ = tokio::time::timeout(Duration::from_secs(5), sim.closed()).await;
        }
        for _ in 0..600 {
            if !self.app.state.registry.is_online(&self.device) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // Let the last frames reach the message log before the next case marks where it starts.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sessions_of(app: &TestApp, admin: &str, device: &str) -> Vec<Value> {
    let (s, b) = app
        .get(
            &format!("/api/admin/sessions?deviceId={device}&limit=1000"),
            Some(admin),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b["sessions"].as_array().cloned().unwrap_or_default()
}
