//! Typed settings: defaults, then an optional `rampart.toml`, then `RAMPART_*` environment variables (e.g.
//! `RAMPART_DATABASE_URL`). Built once in `main` and passed down; nothing else reads the environment.
//! Secrets are `SecretString`s: their `Debug` is redacted and they are never logged.

use app::backend::platform::db::Backend;
use app::backend::platform::mail::{DkimConfig, MailConfig, Mailer};
use app::backend::vault::s3::S3Config;
use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use ipnet::IpNet;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where the vault's (encrypted) blobs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BlobStoreKind {
    /// Files under `data_dir/vault` (one instance).
    #[default]
    Local,
    /// An S3-compatible bucket (`s3_*` settings), shared by every instance.
    S3,
}

/// The SQLite pool's default size. Each connection keeps its own page cache, prepared statements and parsed
/// schema, about 3 MB once the console's pages and the API have run on it (allocated by SQLite, outside the Rust
/// allocator): eight connections held 23–28 MB of the server's memory before a sign-in storm, four 12 MB less
/// (`/proc/PID/smaps`, 2026-12-07). SQLite writes one at a time, and two cores run at most two reads at once;
/// the console's and the API's throughput did not change measurably with four (`wrk`, the builds alternating).
pub const SQLITE_POOL_SIZE: u32 = 4;

/// The PostgreSQL pool's default size: a query there waits on the network, so more of them overlap.
pub const POSTGRES_POOL_SIZE: u32 = 8;

/// Every setting, with its default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://data/rampart.db` (default) or `postgres://user@host/db`.
    pub database_url: String,
    /// Pool size; unset: `SQLITE_POOL_SIZE` on SQLite, `POSTGRES_POOL_SIZE` on PostgreSQL
    /// (`database_pool_size`).
    pub database_max_connections: Option<u32>,
    /// How long a request waits for a database connection before it is answered 503.
    pub database_acquire_timeout_ms: u64,
    /// How long SQLite waits for a lock.
    pub database_busy_timeout_ms: u64,
    /// Where the console listens (HTTPS, or plain HTTP behind a TLS-terminating proxy).
    pub listen_addr: SocketAddr,
    /// Where plain HTTP is answered with a redirect to `public_url`; empty to disable.
    pub redirect_addr: Option<SocketAddr>,
    /// Where `/metrics` (Prometheus text, plain HTTP) is served, apart from the console; `off` (or empty) to
    /// disable. A loopback address unless `metrics_public` is set.
    #[serde(deserialize_with = "address_or_off")]
    pub metrics_addr: Option<SocketAddr>,
    /// Allow a `metrics_addr` that is not a loopback address (the metrics tell whoever reaches them how the
    /// console is used: keep such an address behind a firewall).
    pub metrics_public: bool,
    /// The URL users reach the console at; links in emails and the CLI use it.
    pub public_url: String,
    /// PEM certificate chain and key; when unset, a self-signed development certificate in `data_dir/tls`.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// TLS is terminated by a proxy in front: serve plain HTTP on `listen_addr`, still send HSTS.
    pub behind_proxy: bool,
    /// Proxies whose X-Forwarded-For is believed (CIDRs). Empty: the socket address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// A signed-in session ends after this long without a request.
    pub session_idle_minutes: u64,
    /// … and at the latest this long after sign-in.
    pub session_absolute_hours: u64,
    /// Runtime data: the SQLite file by default, generated secrets, the development certificate.
    pub data_dir: PathBuf,
    /// The built site (`/pkg` and the public files).
    pub site_root: PathBuf,
    /// The server master key (base64, 32 bytes). Unset: read from `master_key_file`, generated on first start.
    #[serde(skip_serializing)]
    pub master_key: Option<SecretString>,
    /// Where the master key is kept; default `data_dir/secrets/master.key` (mode 0600).
    pub master_key_file: Option<PathBuf>,
    /// On an empty database the first start creates a demo tenant owned by this email.
    pub demo_owner_email: String,
    /// Concurrent argon2 computations; 0 means one per core.
    pub password_hash_concurrency: usize,
    /// Log filter (tracing EnvFilter syntax).
    pub log: String,
    /// `text` for people, `json` (one object a line, with the request span's id, method and path) for machines.
    pub log_format: LogFormat,
    /// The `From` of every email.
    pub mail_from: String,
    /// The operator's address for the daily email of new error reports (`rampart errors list`); unset: none.
    pub error_report_email: Option<String>,
    /// `smtps://user:pass@host:465`, or `smtp://host:587` (STARTTLS required; `?tls=none` only to a loopback
    /// host). A secret: it carries the credentials. Unset (or empty): messages go to `data_dir/outbox/`.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    /// DKIM signing, when all three are set: every message is signed as `dkim_domain` with the key published
    /// at `{dkim_selector}._domainkey.{dkim_domain}`; the key file is PEM, RSA (2048 bits or more) or Ed25519.
    pub dkim_domain: Option<String>,
    pub dkim_selector: Option<String>,
    pub dkim_key_file: Option<PathBuf>,
    /// The largest file the vault accepts, in MiB.
    pub vault_max_file_mib: u64,
    /// How long a deleted vault file can be restored before it is purged, in days.
    pub vault_restore_days: u32,
    /// Requests with an unrecognised or malformed API key one client address (IPv6: its /64) may make per minute
    /// before it gets 429s (0: the default, 20).
    pub api_unknown_keys_per_minute: u64,
    /// clamd's socket (a Unix socket path, or `tcp://127.0.0.1:3310`): every upload is scanned, and refused
    /// when clamd flags it or cannot be reached. Unset: no scanning.
    pub clamd_socket: Option<String>,
    /// `local` (files under `data_dir/vault`) or `s3` (an S3-compatible bucket: several instances need it).
    pub blob_store: BlobStoreKind,
    /// The bucket (it must exist; Rampart does not create it).
    pub s3_bucket: String,
    /// The S3-compatible service's URL (`https://…`; plain `http://` only to a loopback address); unset for AWS.
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    /// Path-style requests (`endpoint/bucket/key`), which most S3-compatible services need.
    pub s3_path_style: bool,
    /// Every object's name starts with this folder (empty: the bucket's root).
    pub s3_prefix: String,
    pub s3_access_key_id: String,
    /// A secret: never logged, never serialised.
    #[serde(skip_serializing)]
    pub s3_secret_access_key: Option<SecretString>,
    /// The key backups are encrypted under (base64, 32 bytes), kept apart from the server: a backup then also
    /// carries the master keys, so a lost server does not lose the means to restore. Unset: a key derived
    /// from the master key (restoring then needs the master key too).
    #[serde(skip_serializing)]
    pub backup_key: Option<SecretString>,
    /// Where scheduled backups go (a folder per backup, `rampart-<UTC time>`); unset: no schedule.
    pub backup_dir: Option<PathBuf>,
    /// Hours between scheduled backups (0: none).
    pub backup_every_hours: u64,
    /// Scheduled backups kept (the oldest beyond go).
    pub backup_keep: u32,
    /// Where `pg_dump` and `pg_restore` are; unset: the PATH, then /usr/lib/postgresql/<newest>/bin.
    pub pg_bin_dir: Option<PathBuf>,
    /// Where members' public keys are read (`<github_base_url>/<user>.keys`); https, or http to loopback.
    pub github_base_url: String,
    /// GitHub's API (`<github_api_url>/users/<user>/keys`), for the keys' ids and the account's number.
    pub github_api_url: String,
    /// A GitHub token (a secret): without one GitHub allows 60 requests an hour per address.
    #[serde(skip_serializing)]
    pub github_token: Option<SecretString>,
    /// Seconds between two syncs of a member's GitHub keys (at least 5).
    pub ssh_sync_seconds: u64,
    /// Minutes the last known GitHub keys keep working while GitHub cannot be reached.
    pub ssh_stale_minutes: u64,
    /// Where the SFTP gateway listens (`off` or empty: no gateway).
    #[serde(deserialize_with = "address_or_off")]
    pub sftp_addr: Option<SocketAddr>,
    /// Seconds an SFTP connection may stay silent before it is closed.
    pub sftp_idle_seconds: u64,
    /// Let webhooks go to plain-http and loopback URLs (tests only: never on a real server).
    pub webhook_allow_loopback: bool,
    /// Endpoints this instance delivers to at once (0: it delivers none; other instances do).
    pub webhook_parallel: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/rampart.db".to_owned(),
            database_max_connections: None,
            database_acquire_timeout_ms: 5_000,
            database_busy_timeout_ms: 5_000,
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
            redirect_addr: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            metrics_public: false,
            public_url: "https://127.0.0.1:8443".to_owned(),
            tls_cert: None,
            tls_key: None,
            behind_proxy: false,
            trusted_proxies: Vec::new(),
            session_idle_minutes: 60,
            session_absolute_hours: 12,
            data_dir: PathBuf::from("data"),
            site_root: PathBuf::from("target/site"),
            master_key: None,
            master_key_file: None,
            demo_owner_email: "owner@demo.example".to_owned(),
            password_hash_concurrency: 0,
            log: "info".to_owned(),
            log_format: LogFormat::Text,
            mail_from: "Rampart <no-reply@rampart.localhost>".to_owned(),
            error_report_email: None,
            smtp_url: None,
            dkim_domain: None,
            dkim_selector: None,
            dkim_key_file: None,
            vault_max_file_mib: 5 * 1024,
            vault_restore_days: 30,
            api_unknown_keys_per_minute: 0,
            clamd_socket: None,
            blob_store: BlobStoreKind::Local,
            s3_bucket: String::new(),
            s3_endpoint: None,
            s3_region: "us-east-1".to_owned(),
            s3_path_style: false,
            s3_prefix: "vault".to_owned(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: None,
            backup_key: None,
            backup_dir: None,
            backup_every_hours: 24,
            backup_keep: 7,
            pg_bin_dir: None,
            github_base_url: "https://github.com".to_owned(),
            github_api_url: "https://api.github.com".to_owned(),
            github_token: None,
            ssh_sync_seconds: 300,
            sftp_addr: Some(SocketAddr::from(([127, 0, 0, 1], 2222))),
            sftp_idle_seconds: 600,
            webhook_allow_loopback: false,
            webhook_parallel: 8,
            ssh_stale_minutes: 60,
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Loads defaults, then `file` (or `./rampart.toml` if present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!("config file {} does not exist", path.display())))
            }
            Some(path) => fig = fig.merge(Toml::file(path)),
            None => fig = fig.merge(Toml::file("rampart.toml")),
        }
        // Only variables that name a setting: other RAMPART_* variables (tooling's own) are not ours to refuse.
        let known = known_keys();
        let fig = fig
            .merge(Env::prefixed("RAMPART_").filter(move |k| known.iter().any(|n| k.as_str().eq_ignore_ascii_case(n))));
        let settings: Settings = fig.extract().map_err(|e| ConfigError(describe(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what serde cannot: shapes of URLs and ranges of numbers.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return bad("database_url", "must start with sqlite: or postgres://");
        }
        if self.database_max_connections == Some(0) {
            return bad("database_max_connections", "must be at least 1");
        }
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://")) {
            return bad("public_url", "must be an absolute http(s) URL, like https://console.example.com");
        }
        if self.public_url.trim_end_matches('/').matches('/').count() > 2 {
            return bad("public_url", "must be an origin without a path, like https://console.example.com");
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad("tls_cert", "tls_cert and tls_key must be set together");
        }
        if self.session_idle_minutes == 0 || self.session_absolute_hours == 0 {
            return bad("session_idle_minutes", "session timeouts must be positive");
        }
        if self.session_idle_minutes > self.session_absolute_hours.saturating_mul(60) {
            return bad("session_idle_minutes", "must not exceed session_absolute_hours");
        }
        if let Some(to) = self.error_report_email.as_deref().filter(|e| !e.is_empty()) {
            if app::backend::identity::accounts::validate_email(to).is_err() {
                return bad("error_report_email", "must be an email address");
            }
        }
        self.check_metrics_addr()?;
        self.dkim_settings()?;
        self.s3_config()?;
        if let Some(k) = self.backup_key.as_ref().filter(|k| !k.expose_secret().trim().is_empty()) {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD.decode(k.expose_secret().trim());
            if decoded.map(|b| b.len()) != Ok(32) {
                return bad("backup_key", "must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)");
            }
        }
        if self.backup_keep == 0 {
            return bad("backup_keep", "must be at least 1");
        }
        for (key, url) in [("github_base_url", &self.github_base_url), ("github_api_url", &self.github_api_url)] {
            if !app::backend::platform::request::https_or_loopback_http(url) {
                return bad(key, "must be an https:// URL (plain http:// only to a loopback address)");
            }
        }
        if self.sftp_idle_seconds == 0 {
            return bad("sftp_idle_seconds", "must be positive");
        }
        if self.ssh_sync_seconds < 5 {
            return bad("ssh_sync_seconds", "GitHub is asked at most every 5 seconds");
        }
        if self.ssh_stale_minutes == 0 {
            return bad("ssh_stale_minutes", "the stale limit must be positive");
        }
        // The mailer's own checks (from address, SMTP URL and its TLS policy); they name the key. The DKIM key
        // is checked where it is read, in `mail_config`.
        Mailer::new(MailConfig { dkim: None, ..self.mail_config_without_dkim() }).map_err(ConfigError)?;
        Ok(())
    }

    /// The pool's size: `database_max_connections`, or the default of the database behind `database_url`.
    pub fn database_pool_size(&self) -> u32 {
        let default = match Backend::of(&self.database_url) {
            Backend::Sqlite => SQLITE_POOL_SIZE,
            Backend::Postgres => POSTGRES_POOL_SIZE,
        };
        self.database_max_connections.unwrap_or(default)
    }

    /// `metrics_addr` is a loopback address, or `metrics_public` says it need not be: the metrics name no
    /// secret, but counts of sign-in failures, blocks and refusals are reconnaissance for an attacker.
    pub fn check_metrics_addr(&self) -> Result<(), ConfigError> {
        match self.metrics_addr {
            Some(addr) if !addr.ip().is_loopback() && !self.metrics_public => Err(ConfigError(format!(
                "metrics_addr: {addr} is not a loopback address; bind it to 127.0.0.1 or [::1] and let the \
                 scraper reach it there, or set metrics_public = true to serve the metrics on it anyway"
            ))),
            _ => Ok(()),
        }
    }

    /// The mailer's configuration, reading the DKIM key file when DKIM is set.
    pub fn mail_config(&self) -> Result<MailConfig, ConfigError> {
        let dkim = match self.dkim_settings()? {
            Some((domain, selector, file)) => {
                let pem = std::fs::read_to_string(file)
                    .map_err(|e| ConfigError(format!("dkim_key_file: {}: {e}", file.display())))?;
                let private_key_pem = SecretString::from(pem);
                Some(DkimConfig { domain: domain.to_owned(), selector: selector.to_owned(), private_key_pem })
            }
            None => None,
        };
        Ok(MailConfig { dkim, ..self.mail_config_without_dkim() })
    }

    fn mail_config_without_dkim(&self) -> MailConfig {
        MailConfig {
            from: self.mail_from.clone(),
            outbox_dir: self.data_dir.join("outbox"),
            smtp_url: self.smtp_url.clone().filter(|url| !url.expose_secret().trim().is_empty()),
            dkim: None,
        }
    }

    /// The three DKIM settings, all or none (an empty value counts as unset).
    fn dkim_settings(&self) -> Result<Option<(&str, &str, &Path)>, ConfigError> {
        let domain = self.dkim_domain.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let selector = self.dkim_selector.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let file = self.dkim_key_file.as_deref().filter(|p| !p.as_os_str().is_empty());
        match (domain, selector, file) {
            (Some(domain), Some(selector), Some(file)) => Ok(Some((domain, selector, file))),
            (None, None, None) => Ok(None),
            _ => {
                let missing = [(domain.is_none(), "dkim_domain"), (selector.is_none(), "dkim_selector")]
                    .into_iter()
                    .find_map(|(missing, key)| missing.then_some(key))
                    .unwrap_or("dkim_key_file");
                Err(ConfigError(format!("{missing}: dkim_domain, dkim_selector and dkim_key_file are set together")))
            }
        }
    }

    /// The S3 store's configuration when `blob_store = "s3"`, checked.
    pub fn s3_config(&self) -> Result<Option<S3Config>, ConfigError> {
        if self.blob_store != BlobStoreKind::S3 {
            return Ok(None);
        }
        let bad = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        let bucket = self.s3_bucket.trim();
        let name_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !name_ok {
            return bad("s3_bucket", "must be a bucket name (3 to 63 lowercase letters, digits, dots and dashes)");
        }
        let secret = self.s3_secret_access_key.clone().filter(|s| !s.expose_secret().trim().is_empty());
        let Some(secret) = secret else {
            return bad("s3_secret_access_key", "is needed with blob_store = \"s3\"");
        };
        if self.s3_access_key_id.trim().is_empty() {
            return bad("s3_access_key_id", "is needed with blob_store = \"s3\"");
        }
        let endpoint = self.s3_endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned);
        let config = S3Config {
            bucket: bucket.to_owned(),
            endpoint,
            region: self.s3_region.trim().to_owned(),
            path_style: self.s3_path_style,
            prefix: self.s3_prefix.trim().trim_matches('/').to_owned(),
            access_key_id: self.s3_access_key_id.trim().to_owned(),
            secret_access_key: secret,
        };
        if let Some(endpoint) = &config.endpoint {
            if !app::backend::platform::request::https_or_loopback_http(endpoint) {
                return bad("s3_endpoint", "must be an https:// URL (plain http:// only to a loopback address)");
            }
        }
        let prefix_ok = config.prefix.split('/').all(|seg| {
            !seg.is_empty() && seg != ".." && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
        if !config.prefix.is_empty() && !prefix_ok {
            return bad("s3_prefix", "must be folder names of letters, digits, dots, dashes and underscores");
        }
        Ok(Some(config))
    }

    /// The SSH key settings of the app state.
    pub fn ssh_settings(&self) -> app::backend::ssh::SshSettings {
        let minutes = |m: u64| i64::try_from(m.saturating_mul(60_000)).unwrap_or(i64::MAX);
        app::backend::ssh::SshSettings {
            github: app::backend::ssh::github::GithubConfig {
                base_url: self.github_base_url.trim().to_owned(),
                api_url: self.github_api_url.trim().to_owned(),
                token: self.github_token.clone().filter(|t| !t.expose_secret().trim().is_empty()),
            },
            sync_every_ms: i64::try_from(self.ssh_sync_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            stale_after_ms: minutes(self.ssh_stale_minutes),
            sftp: Default::default(),
        }
    }

    /// The public origin, without a trailing slash.
    pub fn public_origin(&self) -> String {
        self.public_url.trim_end_matches('/').to_owned()
    }
}

/// An address, or `off` / empty for none (TOML has no null, and an environment variable is always a string).
fn address_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() || s.trim().eq_ignore_ascii_case("off") => Ok(None),
        Some(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("not an address like 127.0.0.1:9464, or `off`: {s:?}"))),
    }
}

/// The names of every setting.
fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let secrets = ["master_key", "smtp_url", "s3_secret_access_key", "backup_key", "github_token"];
    keys.extend(secrets.into_iter().map(str::to_owned));
    keys
}

/// Figment's errors name the key and where its value came from; keep that, drop the noise.
fn describe(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = e.metadata.as_ref().and_then(|m| m.source.as_ref()).map(|s| format!(" (from {s})"));
            let key = if key.is_empty() { String::new() } else { format!("{key}: ") };
            format!("{key}{}{}", e.kind, source.unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return its (large) error type
mod tests;
