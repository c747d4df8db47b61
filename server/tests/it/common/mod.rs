//! The test harness: the real server on port 0 over real TLS, with a fresh database (a SQLite file, or a new
//! PostgreSQL database when RAMPART_TEST_POSTGRES_URL is set), a manual clock, and cookie-jar clients that do
//! not follow redirects.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod audit;
pub mod keys;
pub mod pg_cluster;
pub mod process;
pub mod scan;
pub mod vault;

use app::backend::organisation::tenants;
use app::backend::platform::clock::ManualClock;
use app::backend::AppState;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Client, Response, StatusCode};
use server::startup::config::Settings;
use server::Running;
use std::sync::Arc;

pub const PASSWORD: &str = "velvet-otter-harbor-71";

pub struct TestApp {
    pub base: String,
    pub settings: Settings,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub running: Option<Running>,
    cert: Option<reqwest::Certificate>,
    _dir: tempfile::TempDir,
}

/// Which database this run uses.
pub fn backend_name() -> &'static str {
    if std::env::var("RAMPART_TEST_POSTGRES_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

pub async fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("RAMPART_TEST_POSTGRES_URL") {
        Ok(admin) => {
            sqlx::any::install_default_drivers();
            let name = format!("rampart_test_{}", uuid::Uuid::new_v4().simple());
            let pool = sqlx::AnyPool::connect(&admin).await.expect("PostgreSQL admin connection");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&pool).await.unwrap();
            pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
            format!("{base}/{name}")
        }
        Err(_) => format!("sqlite://{}/rampart.db", dir.display()),
    }
}

/// Which blob store this run uses: `s3` when the harness runs under `scripts/with-s3.sh`.
pub fn blob_store_name() -> &'static str {
    if std::env::var("RAMPART_TEST_S3_ENDPOINT").is_ok() {
        "s3"
    } else {
        "local"
    }
}

/// Points `settings` at a new, empty bucket of the test S3 server, when there is one.
pub async fn use_test_bucket(settings: &mut Settings) {
    let Ok(endpoint) = std::env::var("RAMPART_TEST_S3_ENDPOINT") else { return };
    let bucket = format!("rampart-test-{}", uuid::Uuid::new_v4().simple());
    // moto takes an unsigned bucket creation; Rampart itself never creates buckets.
    let res = reqwest::Client::new().put(format!("{endpoint}/{bucket}")).send().await.expect("S3 server");
    assert!(res.status().is_success(), "bucket not created: {}", res.status());
    settings.blob_store = server::startup::config::BlobStoreKind::S3;
    settings.s3_bucket = bucket;
    settings.s3_endpoint = Some(endpoint);
    settings.s3_path_style = true;
    settings.s3_access_key_id = "rampart-test".to_owned();
    settings.s3_secret_access_key = Some(secrecy::SecretString::from("rampart-test-secret".to_owned()));
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with settings adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            database_url: database_url(dir.path()).await,
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            redirect_addr: None,
            // Off unless a test asks for it (`metrics::`): the default port would be shared by every app.
            metrics_addr: None,
            sftp_addr: Some("127.0.0.1:0".parse().unwrap()),
            data_dir: dir.path().to_path_buf(),
            site_root: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public"),
            log: "warn".to_owned(),
            ..Settings::default()
        };
        use_test_bucket(&mut settings).await;
        tweak(&mut settings);
        let clock = ManualClock::starting_now();
        let running = server::start(&settings, clock.clone()).await.expect("server starts");
        let scheme = if settings.behind_proxy { "http" } else { "https" };
        let base = format!("{scheme}://127.0.0.1:{}", running.addr.port());
        settings.public_url = base.clone();
        let cert = (!settings.behind_proxy).then(|| {
            let pem = std::fs::read(dir.path().join("tls/dev-cert.pem")).unwrap();
            reqwest::Certificate::from_pem(&pem).unwrap()
        });
        Self { base, state: running.state.clone(), settings, clock, running: Some(running), cert, _dir: dir }
    }

    /// A second instance beside this one: the same database, blob store, data folder (secrets and certificate)
    /// and clock, its own caches and port — what a load balancer's second server is.
    pub async fn beside(&self) -> Self {
        let mut settings = self.settings.clone();
        settings.listen_addr = "127.0.0.1:0".parse().unwrap();
        settings.sftp_addr = Some("127.0.0.1:0".parse().unwrap());
        let running = server::start(&settings, self.clock.clone()).await.expect("second instance starts");
        let base = format!("https://127.0.0.1:{}", running.addr.port());
        settings.public_url = base.clone();
        Self {
            base,
            state: running.state.clone(),
            settings,
            clock: self.clock.clone(),
            running: Some(running),
            cert: self.cert.clone(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A server on `settings` as they are (a restored data folder, database and store), with this clock.
    pub async fn start_on(mut settings: Settings, clock: Arc<ManualClock>) -> Self {
        settings.listen_addr = "127.0.0.1:0".parse().unwrap();
        settings.sftp_addr = Some("127.0.0.1:0".parse().unwrap());
        let running = server::start(&settings, clock.clone()).await.expect("server starts");
        let base = format!("https://127.0.0.1:{}", running.addr.port());
        settings.public_url = base.clone();
        let pem = std::fs::read(settings.data_dir.join("tls/dev-cert.pem")).unwrap();
        let cert = Some(reqwest::Certificate::from_pem(&pem).unwrap());
        Self {
            base,
            state: running.state.clone(),
            settings,
            clock,
            running: Some(running),
            cert,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh browser-like client: own cookie jar, no redirects followed, trusts the test certificate only.
    pub fn client(&self) -> Client {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", HeaderValue::from_static("rampart-tests/1.0"));
        let mut builder = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .tls_built_in_root_certs(false)
            // A stuck request fails its test with a message instead of hanging the run.
            .timeout(std::time::Duration::from_secs(30))
            .default_headers(headers);
        if let Some(cert) = &self.cert {
            builder = builder.add_root_certificate(cert.clone());
        }
        builder.build().unwrap()
    }

    /// The port of this instance's SFTP gateway.
    pub fn sftp_port(&self) -> u16 {
        self.running.as_ref().and_then(|r| r.sftp_addr).map(|a| a.port()).expect("the SFTP gateway runs")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates a tenant; returns its owner's setup token.
    pub async fn create_tenant(&self, name: &str, owner: &str) -> String {
        tenants::create_tenant(&self.state, name, owner).await.unwrap().setup_token.unwrap()
    }

    /// Posts a form to a server function like the hydrated app does (no `Accept: text/html`).
    pub async fn call(&self, client: &Client, endpoint: &str, form: &[(&str, &str)]) -> Response {
        client.post(self.url(&format!("/api/{endpoint}"))).header("origin", &self.base).form(form).send().await.unwrap()
    }

    /// Posts a form like a browser without JavaScript does.
    pub async fn post_html(&self, client: &Client, endpoint: &str, form: &[(&str, &str)], referer: &str) -> Response {
        client
            .post(self.url(&format!("/api/{endpoint}")))
            .header("origin", &self.base)
            .header("accept", "text/html")
            .header("referer", self.url(referer))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).header("accept", "text/html").send().await.unwrap()
    }

    /// A tenant whose owner has set `PASSWORD`; returns the owner's email.
    pub async fn owner(&self, tenant: &str) -> String {
        let email = format!("owner@{}.example", tenant.to_lowercase().replace(' ', "-"));
        let token = self.create_tenant(tenant, &email).await;
        let res = self.call(&self.client(), "complete_setup", &[("token", &token), ("password", PASSWORD)]).await;
        assert!(res.status().is_success(), "setup failed: {}", res.text().await.unwrap());
        email
    }

    /// A client signed in as a new tenant's owner.
    pub async fn signed_in(&self, tenant: &str) -> (Client, String) {
        let email = self.owner(tenant).await;
        let client = self.client();
        let res = self.call(&client, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK, "sign-in failed: {}", res.text().await.unwrap());
        (client, email)
    }

    /// Events of a tenant's access history, newest first, as (action, outcome, actor).
    pub async fn events(&self, client: &Client) -> Vec<(String, String, String)> {
        let res = self.call(client, "list_recent_events", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let list: Vec<app::model::AuditEventView> = res.json().await.unwrap();
        list.into_iter().map(|e| (e.action, e.outcome, e.actor)).collect()
    }
}

/// The session cookie's `Set-Cookie` line in a response, if any.
pub fn session_set_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-rampart="))
        .map(str::to_owned)
}

/// The value of the session cookie in a `Set-Cookie` line.
pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim_start_matches("__Host-rampart=").to_owned()
}

/// The TOTP code of a base-32 secret (spaces allowed) at an instant in epoch milliseconds.
pub fn totp_code(secret: &str, at_ms: i64) -> String {
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = totp_rs::Secret::try_from_base32(compact.trim_end_matches('=')).expect("base-32 secret");
    let totp = totp_rs::Builder::new().with_secret(bytes.as_bytes().to_vec()).build().expect("totp");
    totp.generate(u64::try_from(at_ms / 1000).unwrap()).to_string()
}

impl TestApp {
    /// The current TOTP code for `secret` by the server's clock.
    pub fn code(&self, secret: &str) -> String {
        use app::backend::platform::clock::Clock as _;
        totp_code(secret, self.clock.now_ms())
    }

    /// Moves the clock to the next 30-second step, so a fresh code is accepted.
    pub fn next_step(&self) {
        self.clock.advance_ms(30_000);
    }

    /// Enrolls the signed-in `client` in TOTP; returns the secret. The clock then moves a step on.
    pub async fn enroll(&self, client: &Client) -> String {
        let res = self.call(client, "start_two_factor_enrollment", &[]).await;
        assert_eq!(res.status(), StatusCode::OK, "start enrollment");
        let view: app::model::TotpEnrollmentView = res.json().await.unwrap();
        let code = self.code(&view.secret_base32);
        let res = self.call(client, "confirm_two_factor_enrollment", &[("code", &code)]).await;
        assert_eq!(res.status(), StatusCode::OK, "confirm enrollment: {}", res.text().await.unwrap());
        self.next_step();
        view.secret_base32
    }

    /// The fresh recovery codes after an enrollment or regeneration (shown once).
    pub async fn fresh_recovery_codes(&self, client: &Client) -> Vec<String> {
        let res = self.call(client, "get_recovery_codes", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        let view: app::model::RecoveryCodesView = res.json().await.unwrap();
        view.fresh
    }

    /// Signs in with the password only; returns the client and where the server sent it.
    pub async fn password_step(&self, email: &str) -> (Client, String) {
        let client = self.client();
        let res = self.call(&client, "sign_in", &[("email", email), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK, "password step: {}", res.text().await.unwrap());
        let location = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
        (client, location)
    }

    /// Every message in the outbox, oldest first, as raw RFC 5322 text.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.settings.data_dir.join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }

    /// Waits (up to 10 s of real time) for a message to `to` whose text contains `needle`; returns it decoded
    /// enough to search (quoted-printable soft breaks removed).
    pub async fn wait_for_mail(&self, to: &str, needle: &str) -> String {
        for _ in 0..200 {
            if let Some(m) =
                self.outbox().into_iter().map(|m| unfold_qp(&m)).find(|m| m.contains(to) && m.contains(needle))
            {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} containing {needle:?}; outbox: {:?}", self.outbox());
    }
}

/// Unfolds header lines and undoes quoted-printable soft line breaks and `=3D`, so subjects and links can be
/// found in a message.
pub fn unfold_qp(message: &str) -> String {
    message.replace("\r\n ", " ").replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

/// Sets a member's feature grants (`team,vault_read`) behind the console's back, as another instance would.
pub async fn set_grants(app: &TestApp, email: &str, grants: &str) {
    sqlx::query("UPDATE memberships SET grants = $1 WHERE account_id = (SELECT id FROM accounts WHERE email = $2)")
        .bind(grants)
        .bind(email)
        .execute(&app.state.pool)
        .await
        .unwrap();
}

/// Adds a member with `PASSWORD` to a tenant, straight in the database as the team issue's invitations will.
pub async fn add_member(app: &TestApp, tenant: &str, email: &str, role: &str) {
    let hash = app.state.hasher.hash(&secrecy::SecretString::from(PASSWORD.to_owned())).await.unwrap();
    let now = {
        use app::backend::platform::clock::Clock as _;
        app.clock.now_ms()
    };
    let tenant_id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
        .bind(tenant)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let account_id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO accounts (id, email, email_key, password_hash, password_set_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&account_id)
    .bind(email)
    .bind(email.to_lowercase())
    .bind(hash)
    .bind(now)
    .execute(&app.state.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO memberships (id, tenant_id, account_id, role, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(tenant_id)
        .bind(&account_id)
        .bind(role)
        .bind(now)
        .execute(&app.state.pool)
        .await
        .unwrap();
}

/// The operator CLI as an operator runs it: the real binary, a clean environment, this database.
pub fn rampart(dir: &std::path::Path, db: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"));
    cmd.current_dir(dir)
        .env_clear()
        .env("RAMPART_DATABASE_URL", db)
        .env("RAMPART_DATA_DIR", dir.join("data"))
        .env("RAMPART_LOG", "warn");
    cmd
}

/// `bytes` decompressed by the system's `gzip -dc` (a reader independent of the compressor), which checks the
/// member's CRC-32 and length.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "gzip -dc: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}
