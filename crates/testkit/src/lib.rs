//! Starts a real Opsdeck server on `127.0.0.1:0` over SQLite or PostgreSQL, for tests.
//!
//! PostgreSQL tests need `OPSDECK_TEST_POSTGRES_URL` (the test command `scripts/test.sh` starts a
//! private cluster and sets it); every server gets a database of its own on that cluster.

// A test harness: failing loudly on a broken set-up is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use opsdeck_core::audit::Actor;
use opsdeck_core::clock::{Clock, FakeClock};
use opsdeck_core::role::Role;
use opsdeck_core::secret;
use opsdeck_store::user::NewUser;
use opsdeck_store::{ConnectOptions, Db};
use opsdeck_web::{AppState, WebConfig};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

mod imap;
pub mod import_fakes;
pub mod oncall_fake;
pub mod opsgenie_fake;
mod receiver;
mod smtp;

pub use imap::ImapServer;
pub use opsdeck_store::Backend;
pub use receiver::Receiver;
pub use reqwest::{Method, StatusCode};
pub use smtp::SmtpSink;

pub const POSTGRES_ENV: &str = "OPSDECK_TEST_POSTGRES_URL";

/// A fresh, migrated database on `backend`, plus whatever keeps it alive.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temp dir");
                (format!("sqlite://{}", dir.path().join("opsdeck.db").display()), Some(dir))
            }
            Backend::Postgres => (fresh_postgres_database().await, None),
        };
        let db = Db::connect(&ConnectOptions::new(&url)).await.expect("connect to the test database");
        db.migrate().await.expect("migrate the test database");
        TestDb { db, url, _dir: dir }
    }
}

/// Creates an empty database on the cluster named by `OPSDECK_TEST_POSTGRES_URL`.
pub async fn fresh_postgres_database() -> String {
    let base = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_ENV} is not set: run the tests with scripts/test.sh, which starts a \
             private PostgreSQL, or point it at a server"
        )
    });
    let admin = Db::connect(&ConnectOptions::new(&base)).await.expect("connect to the PostgreSQL test cluster");
    let name = format!("opsdeck_test_{}", uuid::Uuid::now_v7().simple());
    if let Db::Postgres(pool) = &admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(pool)
            .await
            .expect("create a test database");
    }
    admin.close().await;
    // Replace the database part of the URL, keeping any query string.
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_owned(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    let authority_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match head[authority_end..].find('/') {
        Some(i) => head[..authority_end + i].to_owned(),
        None => head,
    };
    format!("{root}/{name}{query}")
}

/// A running server with its own database and a clock the test controls.
pub struct TestServer {
    pub url: String,
    pub db: Db,
    pub clock: Arc<FakeClock>,
    pub http: reqwest::Client,
    /// The check scheduler, stepped by the test with [`TestServer::run_checks`].
    pub scheduler: Arc<opsdeck_checks::scheduler::Scheduler>,
    /// The alert ingest pipeline (for [`opsdeck_store::pipeline::Pipeline::sweep`]).
    pub pipeline: opsdeck_store::pipeline::Pipeline,
    /// Escalations and the outbox, stepped by the test with [`TestServer::run_notifier`].
    pub notifier: Arc<opsdeck_notify::Notifier>,
    pub vendors: Arc<opsdeck_notify::vendors::VendorPoller>,
    /// The server's state, for stepping its web-side jobs (the report mailer).
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _test_db: TestDb,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, None).await
    }

    /// A server whose notifier sends e-mail through `smtp`.
    pub async fn start_with(backend: Backend, smtp: Option<opsdeck_notify::SmtpConfig>) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let test_db = TestDb::new(backend).await;
        let clock = Arc::new(FakeClock::new(start_time()));
        // The test drives expiry sweeps itself (on its fake clock), so the background sweep waits.
        let config = WebConfig {
            pipeline: opsdeck_store::pipeline::PipelineConfig {
                sweep_every: std::time::Duration::from_secs(86_400),
                ..Default::default()
            },
            // Public status pages are rendered for every request, so a test sees a change at once.
            status_refresh: std::time::Duration::ZERO,
            ..WebConfig::default()
        };
        let state = AppState::new(test_db.db.clone(), clock.clone() as Arc<dyn Clock>, config);
        let prober = Arc::new(opsdeck_checks::Prober::new().expect("build the prober"));
        let scheduler = Arc::new(opsdeck_checks::scheduler::Scheduler::new(
            test_db.db.clone(),
            prober,
            clock.clone() as Arc<dyn Clock>,
            opsdeck_checks::scheduler::SchedulerConfig::default(),
            opsdeck_web::monitor_change_sink(&state),
        ));
        let pipeline = state.pipeline.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let notifier = Arc::new(
            opsdeck_notify::Notifier::new(
                test_db.db.clone(),
                clock.clone() as Arc<dyn Clock>,
                opsdeck_notify::NotifyConfig { public_url: url.clone(), smtp, ..Default::default() },
            )
            .await
            .expect("start the notifier")
            .with_sink(opsdeck_web::notifier_sink(&state.events)),
        );
        state.set_notifier(notifier.clone());
        let vendors = Arc::new(
            opsdeck_notify::vendors::VendorPoller::new(
                test_db.db.clone(),
                clock.clone() as Arc<dyn Clock>,
                "test-vendors".into(),
                &Default::default(),
            )
            .expect("start the vendor poller")
            .with_sink(opsdeck_web::vendor_sink(&state.events)),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let app_state = state.clone();
        let task = tokio::spawn(async move {
            let _ = opsdeck_web::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client");
        TestServer {
            url,
            db: test_db.db.clone(),
            clock,
            http,
            scheduler,
            pipeline,
            notifier,
            vendors,
            state: app_state,
            shutdown: Some(tx),
            task: Some(task),
            _test_db: test_db,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs every check that is due at the fake clock's time; returns how many ran.
    pub async fn run_checks(&self) -> usize {
        self.scheduler.run_once().await.expect("run due checks")
    }

    /// One vendor poller pass at the fake clock's time; how many vendors it polled.
    pub async fn run_vendor_polls(&self) -> usize {
        self.vendors.run_once().await.expect("vendor poll pass")
    }

    /// One report mailer pass at the fake clock's time: how many scheduled reports it queued.
    pub async fn run_report_mailer(&self) -> usize {
        opsdeck_web::report_mailer::queue_due(&self.state).await.expect("report mailer pass")
    }

    /// One lifecycle reminder pass at the fake clock's time: how many dates its digest lists.
    pub async fn run_reminders(&self) -> usize {
        opsdeck_web::report_mailer::queue_reminders(&self.state).await.expect("lifecycle reminder pass")
    }

    /// One pass of the SLO evaluator (burn-rate alerts); how many alerts moved.
    pub async fn run_slo_evaluator(&self) -> usize {
        opsdeck_web::slo_evaluator::evaluate_all(&self.state, "testkit").await.expect("SLO evaluator pass")
    }

    /// One pass of the SLA watcher; how many warnings and breaches it recorded.
    /// One pass of the desk's mailbox reader over `cfg`.
    pub async fn run_mail_in(&self, cfg: &opsdeck_notify::imap::ImapConfig) -> opsdeck_web::mail_in::Pass {
        opsdeck_web::mail_in::poll(&self.state, cfg, "testkit").await.expect("mailbox pass")
    }

    pub async fn run_sla_watch(&self) -> usize {
        opsdeck_web::sla_watch::judge_due(&self.state, "testkit").await.expect("SLA watcher pass")
    }

    /// One pass of the series watcher (forecast and anomaly alerts); how many alerts moved.
    pub async fn run_series_watch(&self) -> usize {
        opsdeck_web::series_watch::evaluate_all(&self.state, "testkit").await.expect("series watcher pass")
    }

    pub async fn run_notifier(&self) -> opsdeck_notify::Pass {
        self.notifier.run_once().await.expect("notifier pass")
    }

    /// Creates a user directly in the database (password "password-<username>").
    pub async fn user(&self, username: &str, role: Role) -> opsdeck_core::user::User {
        let password_hash = secret::hash_password(&format!("password-{username}")).expect("hash");
        self.db
            .create_user(
                &Actor::system("test"),
                self.now(),
                NewUser { username: username.into(), display_name: username.into(), email: None, role, password_hash },
            )
            .await
            .expect("create user")
    }

    /// Creates a user with `role` and returns an API token for them.
    pub async fn token(&self, username: &str, role: Role) -> String {
        let u = self.user(username, role).await;
        self.token_for(&u, None).await
    }

    pub async fn token_for(&self, user: &opsdeck_core::user::User, cap: Option<Role>) -> String {
        let token = secret::generate(secret::TOKEN_PREFIX);
        self.db
            .create_token(
                &Actor::system("test"),
                self.now(),
                user.id,
                "test",
                &secret::digest(&token),
                &secret::token_hint(&token),
                cap,
            )
            .await
            .expect("create token");
        token
    }

    /// Sends a request with an optional bearer token and JSON body; returns status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    /// Posts raw bytes, with a bearer token or without (ingest endpoints carry their key).
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        bearer: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req =
            self.http.post(format!("{}{path}", self.url)).header("content-type", "application/json").body(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("send request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Submits a web form as a signed-in browser would (session cookie, same origin); returns
    /// the status and the decoded `notice` of the redirect (the page's confirmation or "Not done: …").
    pub async fn form(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .header("cookie", cookie)
            .header("origin", &self.url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).expect("encode form"))
            .send()
            .await
            .expect("send form");
        let status = resp.status();
        let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("").to_owned();
        let notice = location
            .split('#')
            .next()
            .unwrap_or("")
            .split_once("notice=")
            .and_then(|(_, n)| serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("n={n}")).ok())
            .and_then(|v| v.into_iter().next())
            .map(|(_, n)| n)
            .unwrap_or_default();
        (status, notice)
    }

    /// Fetches a page as a signed-in browser would; returns the status and the HTML.
    pub async fn page(&self, path: &str, cookie: &str) -> (StatusCode, String) {
        let resp =
            self.http.get(format!("{}{path}", self.url)).header("cookie", cookie).send().await.expect("get page");
        (resp.status(), resp.text().await.unwrap_or_default())
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs in through the API and returns the session cookie (`name=value`).
    pub async fn login(&self, username: &str, password: &str) -> Result<String, (StatusCode, Value)> {
        let resp = self
            .http
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .expect("send login");
        let status = resp.status();
        let cookie = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(opsdeck_web::SESSION_COOKIE))
            .map(|c| c.split(';').next().unwrap_or("").to_owned());
        let body = resp.json().await.unwrap_or(Value::Null);
        match (status.is_success(), cookie) {
            (true, Some(c)) => Ok(c),
            _ => Err((status, body)),
        }
    }

    /// Stops the server and waits for it to finish its in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.db.close().await;
    }
}

fn start_time() -> DateTime<Utc> {
    opsdeck_core::clock::SystemClock.now()
}

/// Generates one test per backend for each `async fn name(srv: &TestServer)` listed.
#[macro_export]
macro_rules! backend_tests {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let srv = $crate::TestServer::start($crate::Backend::Sqlite).await;
                    super::$case(&srv).await;
                    srv.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let srv = $crate::TestServer::start($crate::Backend::Postgres).await;
                    super::$case(&srv).await;
                    srv.stop().await;
                }
            }
        )*
    };
}
