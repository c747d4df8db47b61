//! `/metrics`: served on its own loopback listener only, counting what happened by the right amount, and
//! naming no tenant, account, key or secret. Each app has its own recorder, so the counts here are this
//! app's alone whatever else runs in the process. `log` runs the real binary for the JSON request log and the
//! start-up refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod log;

use crate::common::keys::{api_get, create_key};
use crate::common::{TestApp, PASSWORD};
use reqwest::StatusCode;
use server::startup::config::Settings;
use std::net::SocketAddr;

/// A sample: name, labels (sorted), value.
type Sample = (String, Vec<(String, String)>, f64);

/// One scrape: its text and every sample in it.
pub struct Scrape {
    pub text: String,
    samples: Vec<Sample>,
}

impl Scrape {
    pub fn parse(text: String) -> Self {
        let samples = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(sample).collect();
        Self { text, samples }
    }

    /// The value of the series with exactly these labels; 0 when it was never recorded.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut want: Vec<(String, String)> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        want.sort();
        self.samples.iter().find(|(n, l, _)| n == name && *l == want).map_or(0.0, |(_, _, v)| *v)
    }
}

/// `name{k="v",…} value` (label values may hold braces, commas and escaped quotes).
fn sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap();
    let name = line[..name_end].to_owned();
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let (mut key, mut value, mut in_value, mut escaped) = (String::new(), String::new(), false, false);
        let mut end = body.len();
        while let Some((i, c)) = chars.next() {
            match (in_value, escaped, c) {
                (true, true, c) => {
                    value.push(if c == 'n' { '\n' } else { c });
                    escaped = false;
                }
                (true, false, '\\') => escaped = true,
                (true, false, '"') => {
                    labels.push((std::mem::take(&mut key), std::mem::take(&mut value)));
                    in_value = false;
                }
                (true, false, c) => value.push(c),
                (false, _, '=') => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                    in_value = true;
                }
                (false, _, ',') => {}
                (false, _, '}') => {
                    end = i + 1;
                    break;
                }
                (false, _, c) => key.push(c),
            }
        }
        rest = &body[end..];
    }
    labels.sort();
    (name, labels, rest.trim().parse().unwrap_or_else(|_| panic!("no value in {line}")))
}

pub async fn scrape(addr: SocketAddr) -> Scrape {
    let res = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    Scrape::parse(res.text().await.unwrap())
}

fn with_metrics(s: &mut Settings) {
    s.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
}

async fn spawn() -> (TestApp, SocketAddr) {
    let app = TestApp::spawn_with(with_metrics).await;
    let addr = app.running.as_ref().unwrap().metrics_addr.expect("the metrics listener is up");
    assert!(addr.ip().is_loopback());
    (app, addr)
}

async fn tenant_id(app: &TestApp, name: &str) -> String {
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1").bind(name).fetch_one(&app.state.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_keys_pages_and_requests_move_their_counters() {
    let (app, addr) = spawn().await;
    let before = scrape(addr).await;
    let (owner, email) = app.signed_in("Counted").await;
    let wrong_password = "not-the-password-4821";
    let wrong = app.call(&app.client(), "sign_in", &[("email", &email), ("password", wrong_password)]).await;
    let unknown =
        app.call(&app.client(), "sign_in", &[("email", "nobody@counted.example"), ("password", PASSWORD)]).await;
    assert_eq!(wrong.status(), unknown.status(), "one answer for every failure");
    let failed = wrong.status().as_u16().to_string();
    let (_, key) = create_key(&app, &owner, "read", &[]).await;
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::OK);
    assert_eq!(api_get(&app, "rk_not_a_key", "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&owner, "/overview").await.status(), StatusCode::OK);
    app.state.api_log.flush().await;
    // A hash answered by its rescued twin leaves the other copy running a moment longer (`Hasher::run`).
    let t = std::time::Instant::now();
    while app.state.hasher.in_progress() > 0 {
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "a hash never ended");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let after = scrape(addr).await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);

    let sign_ins = "rampart_sign_in_attempts_total";
    assert_eq!(delta(sign_ins, &[("outcome", "success")]), 1.0, "{}", after.text);
    assert_eq!(delta(sign_ins, &[("outcome", "wrong_password")]), 1.0);
    assert_eq!(delta(sign_ins, &[("outcome", "unknown_account")]), 1.0);
    assert_eq!(delta(sign_ins, &[("outcome", "throttled")]), 0.0);
    assert_eq!(delta("rampart_step_up_attempts_total", &[("outcome", "success")]), 1.0);
    // Three sign-ins and the step-up went through the password budgets; none was refused.
    let password = [("limiter", "password"), ("decision", "allowed")];
    assert_eq!(delta("rampart_throttle_decisions_total", &password), 4.0);
    assert_eq!(delta("rampart_password_hash_duration_seconds_count", &[("op", "verify")]), 4.0);
    assert_eq!(delta("rampart_password_hash_duration_seconds_count", &[("op", "hash")]), 1.0, "the setup");

    let keys = "rampart_api_key_verifications_total";
    assert_eq!(delta(keys, &[("outcome", "accepted")]), 1.0);
    assert_eq!(delta(keys, &[("outcome", "malformed")]), 1.0);
    let unknown_keys = [("limiter", "api_unknown_key"), ("decision", "allowed")];
    assert_eq!(delta("rampart_throttle_decisions_total", &unknown_keys), 1.0);
    assert_eq!(delta("rampart_api_log_events_written_total", &[]), 2.0, "both REST requests recorded");
    assert!(delta("rampart_api_log_lag_seconds_count", &[]) >= 1.0);

    let http = "rampart_http_requests_total";
    let req = |method, route, status| [("method", method), ("route", route), ("status", status)];
    assert_eq!(delta(http, &req("POST", "/api/sign_in", "200")), 1.0, "{}", after.text);
    assert_eq!(delta(http, &req("POST", "/api/sign_in", &failed)), 2.0);
    assert_eq!(delta(http, &req("GET", "/api/v1/members", "200")), 1.0);
    assert_eq!(delta(http, &req("GET", "/api/v1/members", "401")), 1.0);
    assert_eq!(delta(http, &req("GET", "/overview", "200")), 1.0);
    let timed = [("method", "GET"), ("route", "/api/v1/members"), ("status_class", "2xx")];
    assert_eq!(delta("rampart_http_request_duration_seconds_count", &timed), 1.0);

    // Gauges, read at scrape time.
    let max = f64::from(app.settings.database_pool_size());
    assert_eq!(after.get("rampart_db_pool_max_connections", &[]), max);
    let open = after.get("rampart_db_pool_connections", &[]);
    let (idle, in_use) =
        (after.get("rampart_db_pool_idle_connections", &[]), after.get("rampart_db_pool_in_use_connections", &[]));
    assert!(open >= 1.0 && open <= max && idle + in_use == open, "{open} {idle} {in_use}");
    assert_eq!(after.get("rampart_password_hash_queue_depth", &[]), 0.0);
    assert_eq!(after.get("rampart_password_hash_in_progress", &[]), 0.0);
    assert_eq!(after.get("rampart_api_log_queue_depth", &[]), 0.0);
    assert_eq!(after.get("rampart_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);

    // Nothing that names a tenant, an account, a key or a secret.
    let tenant = tenant_id(&app, "Counted").await;
    for secret in [email.as_str(), PASSWORD, wrong_password, key.as_str(), tenant.as_str(), "Counted", "nobody@"] {
        assert!(!after.text.contains(secret), "{secret} in the scrape");
    }
}

/// A password check refused by the back-off, and the automatic block of an address that keeps failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_sign_ins_and_ip_blocks_are_counted() {
    let (app, addr) = spawn().await;
    let email = app.owner("Hammered").await;
    let before = scrape(addr).await;
    let guess = [("email", email.as_str()), ("password", "guess-guess-guess-1")];
    // Five free failures per account and address, then the back-off (the clock stands still); the 50th failure
    // from one address blocks it.
    for _ in 0..app::backend::network::ip_guard::IP_FAILURE_LIMIT {
        app.call(&app.client(), "sign_in", &guess).await;
    }
    let blocked = app.get(&app.client(), "/sign-in").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let after = scrape(addr).await;
    let delta = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let sign_ins = "rampart_sign_in_attempts_total";
    assert_eq!(delta(sign_ins, &[("outcome", "wrong_password")]), 5.0, "{}", after.text);
    assert_eq!(delta(sign_ins, &[("outcome", "throttled")]), 45.0);
    let throttle = "rampart_throttle_decisions_total";
    assert_eq!(delta(throttle, &[("limiter", "password"), ("decision", "allowed")]), 5.0);
    assert_eq!(delta(throttle, &[("limiter", "password"), ("decision", "throttled")]), 45.0);
    assert_eq!(
        delta("rampart_password_hash_duration_seconds_count", &[("op", "verify")]),
        5.0,
        "no argon2 when refused"
    );
    assert_eq!(delta("rampart_ip_blocks_started_total", &[]), 1.0);
    assert_eq!(delta("rampart_ip_blocked_requests_total", &[]), 1.0);
    assert_eq!(after.get("rampart_ip_blocks_active", &[]), 1.0);
    let refused = [("method", "GET"), ("route", "other"), ("status", "429")];
    assert_eq!(delta("rampart_http_requests_total", &refused), 1.0, "refused before the console's routes");
    assert!(!after.text.contains("127.0.0.1") && !after.text.contains(&email));
}

/// Emails and background jobs: the reset link goes out through the one worker, counted as a job pass and a
/// sent email; every message in the outbox is one counted email.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_and_job_runs_are_counted() {
    let (app, addr) = spawn().await;
    let email = app.owner("Mailed").await;
    let res = app.call(&app.client(), "request_password_reset", &[("email", &email)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    app.wait_for_mail(&email, "reset-password/").await;
    let sent = [("transport", "outbox"), ("outcome", "sent")];
    let mut last = scrape(addr).await;
    for _ in 0..100 {
        if last.get("rampart_emails_total", &sent) >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        last = scrape(addr).await;
    }
    #[allow(clippy::cast_precision_loss)]
    let outbox = app.outbox().len() as f64;
    assert_eq!(last.get("rampart_emails_total", &sent), outbox, "{}", last.text);
    assert_eq!(last.get("rampart_emails_total", &[("transport", "outbox"), ("outcome", "failed")]), 0.0);
    let job = |name| [("job", name), ("outcome", "success")];
    assert!(last.get("rampart_job_runs_total", &job("password_reset")) >= 1.0, "{}", last.text);
    // Every job's first pass runs at start.
    for name in ["session_cleanup", "alert_delivery", "audit_retention", "tenant_closure", "audit_anchor"] {
        assert!(last.get("rampart_job_runs_total", &job(name)) >= 1.0, "{name}: {}", last.text);
        assert!(last.get("rampart_job_last_success_timestamp_seconds", &[("job", name)]) > 1.7e9);
        assert!(last.get("rampart_job_duration_seconds_count", &[("job", name)]) >= 1.0);
    }
    assert!(!last.text.contains(&email) && !last.text.contains("Mailed"));
}

/// The console's listener never serves the metrics, and the metrics listener serves nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_only_on_their_own_listener() {
    let (app, addr) = spawn().await;
    let (owner, _) = app.signed_in("Curious").await;
    for client in [app.client(), owner] {
        let res = client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "signed in or not");
        for path in ["/metrics", "/metrics/", "/metrics?format=prometheus", "/api/metrics", "/api/v1/metrics"] {
            let res = client.get(app.url(path)).header("accept", "text/plain").send().await.unwrap();
            assert!(!res.status().is_success(), "{path}: {}", res.status());
            let body = res.text().await.unwrap();
            assert!(!body.contains("rampart_build_info") && !body.contains("# TYPE"), "{path}: {body}");
        }
    }
    for path in ["/", "/healthz", "/sign-in", "/metrics/x"] {
        let res = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let res = reqwest::Client::new().post(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Off by default in the tests, as `off` turns it off: no listener, nothing recorded.
    let quiet = TestApp::spawn().await;
    assert!(quiet.running.as_ref().unwrap().metrics_addr.is_none() && !quiet.state.metrics.is_enabled());
    assert_eq!(quiet.get(&quiet.client(), "/metrics").await.status(), StatusCode::NOT_FOUND);
}

/// A metrics address off loopback is a configuration error before anything listens, unless `metrics_public`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_address_off_loopback_is_refused_at_start() {
    for public in ["0.0.0.0:0", "[::]:0", "192.0.2.10:9464"] {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            database_url: crate::common::database_url(dir.path()).await,
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            redirect_addr: None,
            metrics_addr: Some(public.parse().unwrap()),
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let clock = app::backend::platform::clock::ManualClock::starting_now();
        match server::start(&settings, clock).await {
            Err(server::StartError::Config(msg)) => {
                assert!(msg.contains("metrics_addr") && msg.contains("metrics_public"), "{msg}")
            }
            Err(other) => panic!("{public}: not a configuration error: {other}"),
            Ok(_) => panic!("{public}: started with public metrics"),
        }
        assert!(settings.validate().is_err(), "{public}");
        assert!(Settings { metrics_public: true, ..settings }.validate().is_ok(), "{public}: allowed when public");
    }
}
