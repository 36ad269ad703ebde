//! The real server in the test's own process (`csms::startup::Application`) on random ports,
//! against a fresh SQLite file or a fresh PostgreSQL database ([`super::fresh_database`]), and what
//! the tests do with it: HTTP calls, registered chargers and customers, connected simulators, the
//! database, the money audit; `dual!` runs a test on both backends; test PKIs for TLS.

use std::path::PathBuf;
use std::time::Duration;

use csms::infra::config::Settings;
use csms::simulator::{SimConfig, Simulator};
use csms::startup::Application;
use csms::state::State;
use serde_json::{Value, json};

pub use super::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestDb, fresh_database};

pub struct TestApp {
    /// The settings it was built with (another node on the same database starts from them).
    pub settings: Settings,
    pub http: String,
    /// `ws://127.0.0.1:PORT/ocpp`
    pub ocpp: String,
    /// `wss://localhost:PORT/ocpp` when the TLS listener runs ([`tls`] settings)
    pub wss: Option<String>,
    pub state: State,
    /// OCPP passwords of the chargers this test registered (generated ones included).
    passwords: std::sync::Mutex<std::collections::HashMap<String, String>>,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    _db: TestDb,
    /// The charger CA's directory (`CSMS_CA_DIR`), removed with the test.
    _ca: Option<tempfile::TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

pub struct Customer {
    pub id: i64,
    pub token: String,
    pub id_tag: String,
}

impl TestApp {
    /// `None` when PostgreSQL was asked for but is not configured (and not required).
    pub async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let _ = env_logger::builder().is_test(true).try_init();
        let (url, db) = fresh_database(backend).await?;
        let ca = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings {
            database_url: url,
            http_addr: "127.0.0.1:0".into(),
            ocpp_addr: "127.0.0.1:0".into(),
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
            bcrypt_cost: 4,
            remote_start_timeout_secs: 5,
            ocpp_call_timeout_secs: 5,
            db_pool_size: 8,
            http_workers: 2,
            ca_dir: ca.path().join("ca").display().to_string(),
            // Every test client is 127.0.0.1: tests register many customers from it.
            register_addr_max: 100_000,
            ..Settings::default()
        };
        tweak(&mut settings);
        Some(Self::launch(settings, db, Some(ca)).await)
    }

    /// A second node (process) on this test's database: its own HTTP and OCPP ports, registry,
    /// relay, recovery and node id.
    pub async fn another_node(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        settings.node_id = None;
        tweak(&mut settings);
        Self::launch(settings, TestDb::Shared, None).await
    }

    async fn launch(settings: Settings, db: TestDb, ca: Option<tempfile::TempDir>) -> TestApp {
        let app = Application::build(settings.clone())
            .await
            .expect("application builds");
        let http = format!("http://127.0.0.1:{}", app.http_port);
        let ocpp = format!("ws://127.0.0.1:{}/ocpp", app.ocpp_port);
        let wss = app
            .ocpp_tls_port
            .map(|p| format!("wss://localhost:{p}/ocpp"));
        let state = app.state.clone();
        let handle = app.http_handle();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            settings,
            http,
            ocpp,
            wss,
            state,
            passwords: Default::default(),
            client: reqwest::Client::new(),
            handle,
            _db: db,
            _ca: ca,
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.http))
            .timeout(Duration::from_secs(60));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// [`request`](Self::request) in a task of its own, for a request whose answer waits on
    /// what the test does next (a charger answering the call it causes).
    pub fn spawn_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> tokio::task::JoinHandle<(u16, Value)> {
        let req = self
            .client
            .request(method, format!("{}{path}", self.http))
            .timeout(Duration::from_secs(60))
            .bearer_auth(token)
            .json(&body);
        tokio::spawn(async move {
            let resp = req.send().await.expect("HTTP request");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        })
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, token, None).await
    }

    pub async fn admin(&self) -> String {
        let (status, body) = self
            .post(
                "/api/admin/login",
                None,
                json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Registers a charger (in a new station) without connecting it, with `password` or, when
    /// `None`, the one csms generates (security profile 1). Returns the charger.
    pub async fn register_charger(&self, device: &str, password: Option<&str>) -> Value {
        let mut body = json!({});
        if let Some(p) = password {
            body["ocppPassword"] = json!(p);
        }
        self.register_charger_with(device, body).await["charger"].clone()
    }

    /// Registers a charger with extra fields in the request body (a station of its own unless
    /// `stationId` is given); returns the whole 201 body.
    pub async fn register_charger_with(&self, device: &str, mut body: Value) -> Value {
        let admin = self.admin().await;
        if body["stationId"].is_null() {
            let (s, station) = self
                .post(
                    "/api/admin/stations",
                    Some(&admin),
                    json!({"name": format!("Station {device}")}),
                )
                .await;
            assert_eq!(s, 201, "{station}");
            body["stationId"] = station["station"]["id"].clone();
        }
        body["deviceId"] = json!(device);
        body["chargingPointId"] = json!(format!("CP-{device}"));
        let (s, created) = self
            .post("/api/admin/chargers", Some(&admin), body.clone())
            .await;
        assert_eq!(s, 201, "{created}");
        let password = created["ocppPassword"]
            .as_str()
            .or(body["ocppPassword"].as_str())
            .map(str::to_string);
        let mut known = self.passwords.lock().unwrap();
        match password {
            Some(p) => known.insert(device.to_string(), p),
            None => known.remove(device),
        };
        created
    }

    /// The OCPP password this test knows for a charger.
    pub fn password(&self, device: &str) -> Option<String> {
        self.passwords.lock().unwrap().get(device).cloned()
    }

    /// `Basic ...` for a charger's handshake, when it has a password.
    pub fn basic_auth(&self, device: &str) -> Option<String> {
        use base64::Engine;
        self.password(device).map(|p| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{device}:{p}"))
            )
        })
    }

    /// Records, as SignCertificate does, that csms issued `pem` to the charger `device` (its row in
    /// `charger_certificates` for that charger, its common name `device`, as the code before the
    /// CSR subject fix stored it whatever the certificate read). Returns the serial.
    #[allow(dead_code)] // not every test binary uses it
    pub async fn record_issued_certificate(&self, device: &str, pem: &str) -> String {
        use csms::infra::db::schema::{charger_certificates, chargers};
        use diesel::prelude::*;
        let ca = csms::infra::ca::Ca::open(&self.settings.ca_dir).unwrap();
        let h = csms::infra::ca::hash_data(pem, Some(ca.cert_pem())).unwrap();
        let (device, pem, serial) = (device.to_string(), pem.to_string(), h.serial_number.clone());
        self.db(move |c| {
            let id: i64 = chargers::table
                .filter(chargers::device_id.eq(&device))
                .select(chargers::id)
                .first(c)
                .unwrap();
            let t = chrono::Utc::now().naive_utc();
            diesel::insert_into(charger_certificates::table)
                .values((
                    charger_certificates::charger_id.eq(id),
                    charger_certificates::serial.eq(&serial),
                    charger_certificates::common_name.eq(&device),
                    charger_certificates::not_after.eq(h.not_after),
                    charger_certificates::pem.eq(&pem),
                    charger_certificates::status.eq("Accepted"),
                    charger_certificates::created_at.eq(t),
                    charger_certificates::updated_at.eq(t),
                ))
                .execute(c)
                .unwrap();
        })
        .await;
        h.serial_number
    }

    /// A simulator configuration for a registered charger (with its password).
    pub fn sim_config(&self, device: &str, connectors: u32) -> SimConfig {
        let mut cfg = SimConfig::new(self.ocpp.clone(), device, connectors);
        cfg.password = self.password(device);
        cfg
    }

    /// A simulator configuration over `wss://` (trusting the test CA), with a client certificate
    /// when one is given.
    pub fn tls_config(
        &self,
        device: &str,
        connectors: u32,
        client: Option<(PathBuf, PathBuf)>,
    ) -> SimConfig {
        let pki = TestPki::of(self);
        let mut cfg = SimConfig::new(
            self.wss
                .clone()
                .expect("the TLS listener runs (helpers::tls)"),
            device,
            connectors,
        );
        cfg.password = self.password(device);
        cfg.ca_cert = Some(pki.ca_cert());
        if let Some((cert, key)) = client {
            cfg.client_cert = Some(cert);
            cfg.client_key = Some(key);
        }
        cfg
    }

    /// Registers a charger and connects a simulator that boots and reports its connectors.
    pub async fn charger(&self, device: &str, connectors: u32) -> Simulator {
        self.register_charger(device, None).await;
        self.connect(self.sim_config(device, connectors)).await
    }

    pub async fn connect(&self, cfg: SimConfig) -> Simulator {
        let id = cfg.id.clone();
        let sim = Simulator::connect(cfg).await.expect("simulator connects");
        self.wait_until(|| self.state.registry.is_online(&id)).await;
        sim
    }

    pub async fn wait_until(&self, mut cond: impl FnMut() -> bool) {
        // Generous: CI runs many of these tests at once on two cores.
        for _ in 0..600 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("condition not reached in 15 s");
    }

    /// A charger's message log (newest first) once it holds a frame for which `cond` holds: the log
    /// is written off the connection's path, a few milliseconds after the frame.
    pub async fn message_log_with(
        &self,
        token: &str,
        device: &str,
        mut cond: impl FnMut(&Value) -> bool,
    ) -> Vec<Value> {
        let mut list = Vec::new();
        for _ in 0..300 {
            let (_, body) = self
                .get(
                    &format!("/api/admin/chargers/{device}/messages?limit=1000"),
                    Some(token),
                )
                .await;
            list = body["messages"].as_array().cloned().unwrap_or_default();
            if list.iter().any(&mut cond) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no such frame in {device}'s message log within 15 s: {list:?}");
    }

    /// Registers a customer and credits the wallet with `balance` (major units).
    pub async fn customer(&self, email: &str, balance: f64) -> Customer {
        let (s, body) = self
            .post(
                "/api/customer/register",
                None,
                json!({"name": email, "email": email, "password": "password"}),
            )
            .await;
        assert_eq!(s, 201, "{body}");
        let id = body["customer"]["id"].as_i64().unwrap();
        if balance > 0.0 {
            let admin = self.admin().await;
            let (s, b) = self
                .post(
                    &format!("/api/admin/customers/{id}/wallet/credit"),
                    Some(&admin),
                    json!({"amount": balance}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
        }
        Customer {
            id,
            token: body["token"].as_str().unwrap().to_string(),
            id_tag: body["customer"]["idTag"].as_str().unwrap().to_string(),
        }
    }

    pub async fn balance(&self, token: &str) -> f64 {
        let (s, body) = self.get("/api/user/wallet", Some(token)).await;
        assert_eq!(s, 200, "{body}");
        body["balance"].as_f64().unwrap()
    }

    pub async fn sessions(&self, token: &str) -> Vec<Value> {
        let (s, body) = self.get("/api/user/charging/sessions", Some(token)).await;
        assert_eq!(s, 200, "{body}");
        body["sessions"].as_array().unwrap().clone()
    }

    pub async fn start(
        &self,
        token: &str,
        device: &str,
        connector: i64,
        amount: f64,
    ) -> (u16, Value) {
        self.post(
            "/api/user/charging/start",
            Some(token),
            json!({"deviceId": device, "connectorId": connector, "amount": amount}),
        )
        .await
    }

    /// Runs a closure on a pooled connection (off the async executor).
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut csms::infra::db::DbConnection) -> T + Send + 'static,
    ) -> T {
        let db = self.state.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = db.get().expect("connection");
            f(&mut c)
        })
        .await
        .unwrap()
    }

    /// The money invariants (see `csms::domain::wallet::audit`): every wallet equals its ledger sum, and
    /// credits == wallets + open holds + paid costs.
    pub async fn assert_money_conserved(&self) {
        let audit = self.db(|c| csms::domain::wallet::audit(c).unwrap()).await;
        assert!(audit.ok(), "money not conserved: {audit:?}");
    }
}

/// Generates `sqlite` and `postgres` tests (in a module named after the test) for `async fn name(app: TestApp)`.
#[macro_export]
macro_rules! dual {
    ($name:ident) => {
        $crate::dual!($name, |_s| {});
    };
    ($name:ident, $tweak:expr) => {
        $crate::both_backends!($name, $tweak, |app| super::$name(app).await);
    };
}

/// The two tests behind `dual!` (and the conformance cases' `case!`): in a module named `$name`,
/// `sqlite` and `postgres`, each starting a [`TestApp`] on a fresh database of its backend with
/// the settings tweak, then running `$run` with it bound to `$app` (`super::` is the caller's
/// module). The PostgreSQL one does nothing when PostgreSQL is not configured (and not required).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $tweak:expr, |$app:ident| $run:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                if let Some($app) = $crate::support::app::TestApp::spawn_with(
                    $crate::support::Backend::Sqlite,
                    $tweak,
                )
                .await
                {
                    $run
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some($app) = $crate::support::app::TestApp::spawn_with(
                    $crate::support::Backend::Postgres,
                    $tweak,
                )
                .await
                {
                    $run
                }
            }
        }
    };
}

/// Settings tweak: a TLS listener with a test PKI made for this test (a CA, a server certificate
/// for localhost / 127.0.0.1, client certificates verified against the CA). Never committed keys.
pub fn tls(s: &mut Settings) {
    let pki = TestPki::create();
    s.ocpp_tls_addr = Some("127.0.0.1:0".into());
    s.ocpp_tls_cert = Some(pki.dir.join("server.pem"));
    s.ocpp_tls_key = Some(pki.dir.join("server.key"));
    s.ocpp_tls_client_ca = Some(pki.ca_cert());
    s.ocpp_tls_reload_secs = 1;
}

/// Settings tweak: [`tls`], with csms's own charger CA (`CSMS_CA_DIR`, created here) trusted for
/// client certificates beside the test CA, as the README asks an operator to do: a certificate
/// csms issued through SignCertificate can then connect at profile 3.
#[allow(dead_code)] // not every test binary uses it
pub fn tls_and_csms_ca(s: &mut Settings) {
    tls(s);
    let test_ca = s.ocpp_tls_client_ca.clone().expect("tls");
    let ca = csms::infra::ca::Ca::open(&s.ca_dir).expect("csms's charger CA");
    let bundle = test_ca.with_file_name("client-cas.pem");
    let pem = format!(
        "{}{}",
        std::fs::read_to_string(&test_ca).unwrap(),
        ca.cert_pem()
    );
    std::fs::write(&bundle, pem).unwrap();
    s.ocpp_tls_client_ca = Some(bundle);
}

/// Certificates made by the tests themselves with rcgen.
pub struct TestPki {
    pub dir: PathBuf,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

#[allow(dead_code)] // not every test binary uses every kind
pub enum ClientCert {
    Valid,
    Expired,
    /// Signed by a CA csms does not know.
    Foreign,
}

fn ca_params(name: &str) -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, name.to_string());
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p
}

impl TestPki {
    /// A new CA and server certificate in a new directory (left in the temp dir: a few small files).
    pub fn create() -> TestPki {
        let dir = tempfile::Builder::new()
            .prefix("csms-test-pki")
            .tempdir()
            .unwrap()
            .keep();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = ca_params("csms test CA");
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("ca.key"), key.serialize_pem()).unwrap();
        let pki = TestPki {
            dir,
            issuer: rcgen::Issuer::new(params, key),
        };
        pki.server_certificate("server");
        pki
    }

    /// The PKI of an app started with [`tls`].
    pub fn of(app: &TestApp) -> TestPki {
        let ca = app
            .settings
            .ocpp_tls_client_ca
            .clone()
            .expect("the app runs with helpers::tls");
        let dir = ca.parent().unwrap().to_path_buf();
        let key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key")).unwrap())
            .unwrap();
        // The test CA itself (the client CA file may hold more: see `tls_and_csms_ca`).
        let issuer = rcgen::Issuer::from_ca_cert_pem(
            &std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
            key,
        )
        .unwrap();
        TestPki { dir, issuer }
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A new server certificate and key, written as `{name}.pem` / `{name}.key`.
    pub fn server_certificate(&self, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let (c, k) = (
            self.dir.join(format!("{name}.pem")),
            self.dir.join(format!("{name}.key")),
        );
        // The key first: a reload that sees the new certificate finds its key.
        std::fs::write(&k, key.serialize_pem()).unwrap();
        std::fs::write(&c, cert.pem()).unwrap();
        (c, k)
    }

    /// A valid client certificate whose subject is `entries` in order, written into the PKI
    /// directory as `client-{tag}`. rcgen keeps one value per attribute type: a second common name
    /// goes in as `DnType::CustomDnType(vec![2, 5, 4, 3])`.
    #[allow(dead_code)] // not every test binary uses it
    pub fn client_with_subject(
        &self,
        tag: &str,
        entries: &[(rcgen::DnType, &str)],
    ) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in entries {
            p.distinguished_name.push(ty.clone(), *value);
        }
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let (c, k) = (
            self.dir.join(format!("client-{tag}.pem")),
            self.dir.join(format!("client-{tag}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    /// A client certificate for `cn` (the charger's identity), written into the PKI directory.
    pub fn client(&self, cn: &str, kind: ClientCert) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn.to_string());
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let tag = match kind {
            ClientCert::Valid => "valid",
            ClientCert::Expired => "expired",
            ClientCert::Foreign => "foreign",
        };
        let cert = match kind {
            ClientCert::Valid => p.signed_by(&key, &self.issuer).unwrap(),
            ClientCert::Expired => {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
                p.signed_by(&key, &self.issuer).unwrap()
            }
            ClientCert::Foreign => {
                let other_key = rcgen::KeyPair::generate().unwrap();
                let other = rcgen::Issuer::new(ca_params("someone else's CA"), other_key);
                p.signed_by(&key, &other).unwrap()
            }
        };
        let (c, k) = (
            self.dir.join(format!("client-{cn}-{tag}.pem")),
            self.dir.join(format!("client-{cn}-{tag}.key")),
        );
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }
}
