//! Rampart's server: configuration, start-up, TLS, the router and its middleware, background jobs and the
//! operator CLI. The domain lives in `app::backend`; this crate only wires it to the network.
#![forbid(unsafe_code)]

pub mod backup;
pub mod errors;
pub mod jobs;
pub mod middleware;
pub mod rest;
pub mod router;
pub mod sftp;
pub mod startup;
pub mod web;

use app::backend::identity::password::Hasher;
use app::backend::identity::sessions::SessionTimeouts;
use app::backend::platform::clock::Clock;
use app::backend::platform::db::{self, DbConfig};
use app::backend::platform::metrics::Metrics;
use app::backend::{organisation::tenants, AppState};
use leptos::prelude::LeptosOptions;
use middleware::client_ip::TrustedProxies;
use middleware::origin::AllowedOrigin;
use startup::config::Settings;
use startup::{secrets, serve, tls};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A start-up failure, with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Runtime(String),
}

/// Connects the pool and applies the migrations.
pub async fn open_database(settings: &Settings) -> Result<sqlx::AnyPool, StartError> {
    let cfg = DbConfig {
        url: settings.database_url.clone(),
        max_connections: settings.database_pool_size(),
        acquire_timeout: Duration::from_millis(settings.database_acquire_timeout_ms),
        busy_timeout: Duration::from_millis(settings.database_busy_timeout_ms),
    };
    let pool = db::connect(&cfg).await.map_err(|e| StartError::Runtime(format!("database: {e}")))?;
    db::migrate(&pool).await.map_err(|e| StartError::Runtime(format!("migrations failed: {e}")))?;
    Ok(pool)
}

/// Builds the domain state.
pub async fn build_state(settings: &Settings, clock: Arc<dyn Clock>) -> Result<AppState, StartError> {
    use secrecy::ExposeSecret as _;
    let master = secrets::load_master_key(settings).map_err(StartError::Config)?;
    let previous = secrets::load_previous_masters(settings).map_err(StartError::Config)?;
    let keys = Arc::new(app::backend::platform::crypto::ServerKeys::from_master(master.expose_secret(), &previous));
    let metrics = if settings.metrics_addr.is_some() { Metrics::prometheus() } else { Metrics::disabled() };
    let mail_config = settings.mail_config().map_err(|e| StartError::Config(e.to_string()))?;
    let mailer = app::backend::platform::mail::Mailer::new(mail_config).map_err(StartError::Config)?;
    let mailer = mailer.with_metrics(metrics.clone());
    let pool = open_database(settings).await?;
    let permits = match settings.password_hash_concurrency {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };
    let hasher = Hasher::new(permits).map_err(|e| StartError::Runtime(format!("password hasher: {e}")))?;
    let hasher = hasher.with_metrics(metrics.clone());
    let minutes = |m: u64| i64::try_from(m.saturating_mul(60_000)).unwrap_or(i64::MAX);
    Ok(AppState::new(app::backend::StateParts {
        api_log: app::backend::audit::api_log::ApiLog::start(pool.clone(), keys.clone(), metrics.clone()),
        key_guard: Arc::new(app::backend::keys::verify::KeyGuard::with_unknown_limit(
            settings.api_unknown_keys_per_minute,
        )),
        ip_guard: Arc::default(),
        ip_rules: Arc::default(),
        api_reference: Arc::new(rest::openapi::reference(&rest::document(), &settings.public_origin())),
        vault: vault_of(settings).await?,
        exports: app::backend::export::Exports::default(),
        anchors: Arc::new(app::backend::audit::anchor::AnchorLog::at(settings.data_dir.join("audit-anchors.log"))),
        reset_wake: Arc::default(),
        failures: app::backend::platform::failure::Reports::start(pool.clone(), clock.clone()),
        metrics,
        pool,
        keys,
        mailer,
        public_url: settings.public_origin().into(),
        clock,
        hasher,
        session_cache: Arc::default(),
        recent: Arc::default(),
        changes: Arc::default(),
        ssh: settings.ssh_settings(),
        sftp: Arc::default(),
        machine_certs: !settings.behind_proxy,
        webhooks: app::backend::webhooks::WebhookSettings {
            allow_loopback: settings.webhook_allow_loopback,
            parallel: settings.webhook_parallel,
        },
        timeouts: SessionTimeouts {
            idle_ms: minutes(settings.session_idle_minutes),
            absolute_ms: minutes(settings.session_absolute_hours.saturating_mul(60)),
        },
    }))
}

/// The vault on the configured blob store (local files under `data_dir/vault`, or the S3 bucket, which must
/// answer), with the configured limits and scanner.
pub async fn vault_of(settings: &Settings) -> Result<app::backend::vault::Vault, StartError> {
    use app::backend::vault::{s3::S3Store, Vault};
    let mut vault = match settings.s3_config().map_err(|e| StartError::Config(e.to_string()))? {
        None => Vault::local(settings.data_dir.join("vault")),
        Some(config) => {
            let store = S3Store::new(&config).map_err(StartError::Config)?;
            store
                .check()
                .await
                .map_err(|e| StartError::Runtime(format!("the S3 bucket {} does not answer: {e}", config.bucket)))?;
            Vault::on(Arc::new(store))
        }
    };
    vault.max_file_bytes = settings.vault_max_file_mib.saturating_mul(1 << 20);
    vault.restore_days = i64::from(settings.vault_restore_days.max(1));
    vault.scanner = settings
        .clamd_socket
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| app::backend::vault::scan::Clamd { address: s.trim().to_owned() });
    Ok(vault)
}

/// A running server: its bound addresses, its state, and the switch that stops it.
pub struct Running {
    pub addr: SocketAddr,
    pub redirect_addr: Option<SocketAddr>,
    /// Where `/metrics` is served, when it is.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the SFTP gateway listens, when it does.
    pub sftp_addr: Option<SocketAddr>,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// A clean stop: no new connections, open requests finish (at most 10 s), background jobs end, and every
    /// access-history event of an answered request is written before this returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.listeners {
            let _ = t.await;
        }
        for t in self.jobs {
            t.abort();
            let _ = t.await;
        }
        // An export this instance was building goes back to the queue for whichever server runs next.
        if let Err(err) = app::backend::export::job::restart_stale(&self.state).await {
            tracing::warn!(error = %err, "exports in progress not handed back at shutdown");
        }
        // So do the webhook endpoints it was delivering to.
        if let Err(err) = app::backend::webhooks::claim::release_all(&self.state).await {
            tracing::warn!(error = %err, "webhook leases not released at shutdown; they end by themselves");
        }
        self.state.api_log.flush().await;
        self.state.failures.flush().await;
        // The final heads go outside the database too.
        let now = self.state.clock.now_ms();
        if let Err(err) = self.state.anchors.write_due(&self.state.pool, &self.state.keys, now).await {
            tracing::warn!(error = %err, "access-history anchors not written at shutdown");
        }
    }
}

/// Starts serving with the given settings and clock (tests pass a manual clock and port 0).
pub async fn start(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Running, StartError> {
    let state = build_state(settings, clock).await?;
    start_with_state(settings, state).await
}

/// Starts serving an already-built state.
pub async fn start_with_state(settings: &Settings, state: AppState) -> Result<Running, StartError> {
    middleware::error_report::install_panic_hook();
    settings.check_metrics_addr().map_err(|e| StartError::Config(e.0))?;
    let tls =
        if settings.behind_proxy { None } else { Some(tls::server_config(settings).map_err(StartError::Config)?) };
    // Behind a TLS-terminating proxy no machine certificate arrives: "machines only" keys could not be honoured.
    if settings.behind_proxy {
        let n = app::backend::machines::manage::machines_only_keys(&state.pool)
            .await
            .map_err(|e| StartError::Runtime(format!("database: {e}")))?;
        if n > 0 {
            return Err(StartError::Config(format!(
                "behind_proxy: {n} API key(s) are \"machines only\", and machine certificates never reach a server \
                 behind a TLS-terminating proxy; serve TLS yourself, or revoke those keys or clear their \
                 \"machines only\" first"
            )));
        }
    }
    // The script, WebAssembly and stylesheet live under a path that changes with their contents (`web::assets`).
    let pkg = settings.site_root.join("pkg");
    let fingerprint = web::assets::fingerprint(&pkg);
    let leptos = LeptosOptions::builder()
        .output_name("rampart")
        .site_root(settings.site_root.to_string_lossy().to_string())
        .site_pkg_dir(format!("pkg/{fingerprint}"))
        .build();
    let web = router::WebState::new(router::WebParts {
        app: state.clone(),
        leptos,
        proxies: TrustedProxies(Arc::new(settings.trusted_proxies.clone())),
        origin: AllowedOrigin(settings.public_origin().into()),
        assets: web::assets::Assets { fingerprint: fingerprint.into(), dir: pkg.into() },
    });
    let app = router::build(web);
    let (tx, rx) = watch::channel(false);
    let listener = serve::bind(settings.listen_addr)
        .await
        .map_err(|e| StartError::Runtime(format!("listen_addr {}: {e}", settings.listen_addr)))?;
    let addr = listener.local_addr().map_err(|e| StartError::Runtime(e.to_string()))?;
    let mut listeners = vec![tokio::spawn(serve::serve(listener, app, tls, rx.clone()))];
    let mut redirect_addr = None;
    if let (Some(raddr), false) = (settings.redirect_addr, settings.behind_proxy) {
        let listener =
            serve::bind(raddr).await.map_err(|e| StartError::Runtime(format!("redirect_addr {raddr}: {e}")))?;
        redirect_addr = listener.local_addr().ok();
        let redirect = serve::redirect_app(settings.public_origin());
        listeners.push(tokio::spawn(serve::serve(listener, redirect, None, rx.clone())));
    }
    let mut sftp_addr = None;
    if let Some(saddr) = settings.sftp_addr {
        let (listener, config) = sftp::bind(settings, &state, saddr).await.map_err(StartError::Runtime)?;
        sftp_addr = listener.local_addr().ok();
        listeners.push(tokio::spawn(sftp::serve(listener, config, state.clone(), rx.clone())));
    }
    let mut metrics_addr = None;
    if let Some(maddr) = settings.metrics_addr.filter(|_| state.metrics.is_enabled()) {
        let listener =
            serve::bind(maddr).await.map_err(|e| StartError::Runtime(format!("metrics_addr {maddr}: {e}")))?;
        metrics_addr = listener.local_addr().ok();
        listeners.push(tokio::spawn(serve::serve(listener, startup::metrics::router(state.clone()), None, rx)));
    }
    let mut jobs = vec![
        jobs::session_cleanup::spawn(state.pool.clone(), state.metrics.clone()),
        jobs::alert_delivery::spawn(state.clone()),
        jobs::audit_retention::spawn(state.clone()),
        jobs::vault_maintenance::spawn(state.clone()),
        jobs::tenant_closure::spawn(state.clone()),
        jobs::data_export::spawn(state.clone()),
        jobs::password_reset::spawn(state.clone()),
        jobs::audit_anchor::spawn(state.clone()),
        jobs::ssh_sync::spawn(state.clone()),
    ];
    app::backend::webhooks::claim::at_start(&state).await.map_err(|e| StartError::Runtime(e.to_string()))?;
    if settings.webhook_parallel > 0 {
        jobs.push(jobs::webhooks::spawn(state.clone()));
    }
    if let Some(to) = settings.error_report_email.as_deref().filter(|e| !e.is_empty()) {
        jobs.push(jobs::error_digest::spawn(state.clone(), to.to_owned()));
    }
    if state.metrics.is_enabled() {
        jobs.push(startup::metrics::spawn_upkeep(state.metrics.clone()));
    }
    jobs.extend(jobs::access_changes::spawn(state.clone(), &settings.database_url));
    jobs.extend(jobs::backup::spawn(state.clone(), settings.clone()));
    // This instance's life lock on PostgreSQL (`job_lock::hold_instance`), held by a task that only ends with
    // the server (or the process).
    let life = app::backend::platform::job_lock::hold_instance(&state.pool, state.exports.worker_id())
        .await
        .map_err(|e| StartError::Runtime(format!("database: {e}")))?;
    if let Some(conn) = life {
        jobs.push(tokio::spawn(async move {
            let _held = conn;
            std::future::pending::<()>().await;
        }));
    }
    Ok(Running { addr, redirect_addr, metrics_addr, sftp_addr, state, shutdown: tx, listeners, jobs })
}

/// On an empty database, creates the demo tenant and returns its owner's setup link.
pub async fn ensure_demo_tenant(settings: &Settings, state: &AppState) -> Result<Option<String>, StartError> {
    let any = tenants::any_tenant(state).await.map_err(|e| StartError::Runtime(e.to_string()))?;
    if any {
        return Ok(None);
    }
    let created = tenants::create_tenant(state, "Demo", &settings.demo_owner_email)
        .await
        .map_err(|e| StartError::Runtime(format!("creating the demo tenant: {e}")))?;
    Ok(created.setup_token.map(|t| setup_link(settings, &t)))
}

/// The URL of a setup link.
pub fn setup_link(settings: &Settings, token: &str) -> String {
    format!("{}/setup/{token}", settings.public_origin())
}
