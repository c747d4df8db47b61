//! The operator CLI: `serve`, `migrate`, `tenant create|add-member|list|open-console|pending-closures`,
//! `audit verify|purge|seal-unchained`, `keys rotate-master`, `errors list|show`. It prints names, ids, setup
//! links and error reports, never other tenant data. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage.

use crate::startup::config::Settings;
use crate::{build_state, ensure_demo_tenant, open_database, setup_link, start, StartError};
use app::backend::platform::clock::{Clock as _, SystemClock};
use app::backend::{audit, organisation::tenants};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(name = "rampart", version, about = "Rampart security console")]
pub struct Cli {
    /// Settings file (default: ./rampart.toml when present). RAMPART_* variables override it.
    #[arg(long, global = true, env = "RAMPART_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate and serve the console (the default).
    Serve {
        /// TLS is terminated by a proxy in front: serve plain HTTP, still send HSTS.
        #[arg(long)]
        behind_proxy: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Check or purge the access history.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the server's own keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The error reports: every internal error and panic, once per kind and place, with a count.
    Errors {
        #[command(subcommand)]
        command: ErrorsCommand,
    },
    /// Backups: create, verify, restore.
    Backup {
        #[command(subcommand)]
        command: crate::backup::cli::BackupCommand,
    },
    /// The database, its migration, the tenants and the age of the last good backup.
    Status,
    /// Support access with the organisation's consent: request it, open an approved one.
    Support {
        #[command(subcommand)]
        command: crate::startup::support_cli::SupportCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ErrorsCommand {
    /// One line per report, the most recent first: id, count, last seen, kind, place.
    List,
    /// One report in full (by its id, or a prefix of at least 4 characters of it).
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Replace the master key with a fresh one and re-wrap every tenant's vault data key under it (file bodies
    /// are not touched). The old master stays in `previous/` beside the key file: it still verifies older
    /// access-history events and opens older TOTP seals. Restart running servers afterwards.
    RotateMaster,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the tamper-evident chains (every tenant's, and the tenant-less one); exit 1 at a broken link.
    Verify {
        /// Only this tenant (id or name).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Delete events past each tenant's retention now (the server also does this every hour).
    Purge,
    /// List access-history rows that were never sealed into a chain (written outside Rampart, or by a version
    /// before the chain), and with `--yes` seal them. The server never does this on its own: sealing rows it
    /// did not write would vouch for whatever their writer chose.
    SealUnchained {
        /// Seal the rows listed.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its owner's one-time setup link.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner: String,
    },
    /// List tenants (id and name).
    List,
    /// Add a member to a tenant (by id or name) and print the setup link of a new account.
    AddMember {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// member, admin or auditor
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Empty a tenant's console allow list (by id or name), when its admins can no longer reach the console.
    OpenConsole {
        #[arg(long)]
        tenant: String,
    },
    /// List tenants whose closure is pending (id, name, requested at, closes at; nothing else).
    PendingClosures,
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rampart: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings.log, settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rampart: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve { behind_proxy: false });
    if let Command::Serve { behind_proxy: true } = command {
        settings.behind_proxy = true;
    }
    match runtime.block_on(execute(command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(StartError::Config(e)) => {
            eprintln!("rampart: invalid configuration: {e}");
            ExitCode::from(2)
        }
        Err(StartError::Runtime(e)) => {
            eprintln!("rampart: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing(filter: &str, format: crate::startup::config::LogFormat) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        crate::startup::config::LogFormat::Text => builder.try_init(),
        crate::startup::config::LogFormat::Json => {
            builder.json().with_current_span(true).with_span_list(false).try_init()
        }
    };
}

/// Ctrl-C, or SIGTERM from a service manager: both mean a clean stop.
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// On SQLite, one server per database file: a second `rampart serve` on it is refused (its jobs' locks and
/// its caches are per process; several instances need PostgreSQL). The lock is the file `<database>.serve-lock`,
/// held until the process ends, however it ends.
fn sqlite_serve_lock(settings: &Settings) -> Result<Option<std::fs::File>, StartError> {
    let Some(db) = app::backend::platform::db::sqlite_path(&settings.database_url) else { return Ok(None) };
    let path = format!("{db}.serve-lock");
    if let Some(dir) = std::path::Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StartError::Runtime(format!("{}: {e}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StartError::Runtime(format!("{path}: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::Config(format!(
            "another `rampart serve` is already using the SQLite database {db}; several instances need \
             PostgreSQL and an S3-compatible store (README: Running several instances)"
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StartError::Runtime(format!("{path}: {e}"))),
    }
}

async fn execute(command: Command, settings: Settings) -> Result<(), StartError> {
    match command {
        Command::Serve { .. } => {
            let _only_server = sqlite_serve_lock(&settings)?;
            let running = start(&settings, Arc::new(SystemClock)).await?;
            if let Some(link) = ensure_demo_tenant(&settings, &running.state).await? {
                println!(
                    "Created the demo tenant. Its owner ({}) sets a password here (valid 24 hours, once):",
                    settings.demo_owner_email
                );
                println!("  {link}");
            }
            println!("Rampart is serving {} (listening on {})", settings.public_origin(), running.addr);
            if let Some(r) = running.redirect_addr {
                println!("HTTP on {r} redirects to HTTPS");
            }
            if let Some(m) = running.metrics_addr {
                println!("Metrics on http://{m}/metrics");
            }
            wait_for_stop_signal().await;
            println!("Shutting down: finishing open requests and writing the access history");
            running.stop().await;
            Ok(())
        }
        Command::Backup { command } => crate::backup::cli::execute(command, settings).await,
        Command::Status => crate::backup::cli::status(settings).await,
        Command::Migrate => {
            open_database(&settings).await?;
            println!("Migrations applied");
            Ok(())
        }
        Command::Tenant { command: TenantCommand::Create { name, owner } } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let created = tenants::create_tenant(&state, &name, &owner).await.map_err(|e| match e {
                app::model::AppError::Validation { .. } | app::model::AppError::Conflict { .. } => {
                    StartError::Config(e.to_string())
                }
                other => StartError::Runtime(other.to_string()),
            })?;
            println!("Created tenant {} ({})", name.trim(), created.id);
            match created.setup_token {
                Some(token) => {
                    println!("Owner setup link (valid 24 hours, single use):\n  {}", setup_link(&settings, &token))
                }
                None => println!("The owner already has an account and signs in with it."),
            }
            Ok(())
        }
        Command::Tenant { command: TenantCommand::AddMember { tenant, email, role } } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let token = tenants::add_member(&state, &tenant, &email, &role).await.map_err(|e| match e {
                app::model::AppError::Validation { .. } | app::model::AppError::Conflict { .. } => {
                    StartError::Config(e.to_string())
                }
                other => StartError::Runtime(other.to_string()),
            })?;
            println!("Added {} as {role}", email.trim());
            match token {
                Some(token) => {
                    println!("Setup link (valid 24 hours, single use):\n  {}", setup_link(&settings, &token))
                }
                None => println!("The account exists and signs in with its password."),
            }
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify { tenant } } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let runtime = |e: app::model::AppError| StartError::Runtime(e.to_string());
            let chains = match tenant {
                Some(t) => {
                    let list = tenants::list_tenants(&state).await.map_err(runtime)?;
                    let found = list.into_iter().find(|x| x.id.as_str() == t || x.name == t);
                    let found = found.ok_or_else(|| StartError::Config(format!("no tenant named or numbered {t}")))?;
                    vec![found.id.as_str().to_owned()]
                }
                None => audit::verify::list_chains(&state.pool).await.map_err(runtime)?,
            };
            let mut broken = 0;
            for chain in chains {
                let r = audit::verify::verify_chain(&state.pool, &state.keys, &state.anchors, &chain)
                    .await
                    .map_err(runtime)?;
                match &r.problem {
                    None => println!("{chain}\tintact\t{} events (#{} to #{})", r.checked, r.first_seq, r.head_seq),
                    Some(p) => {
                        broken += 1;
                        let event = r.broken_event.as_deref().unwrap_or("-");
                        println!("{chain}\tBROKEN\tat #{} (event {event}): {p}", r.broken_seq.unwrap_or(0));
                    }
                }
            }
            if broken > 0 {
                return Err(StartError::Runtime(format!("{broken} chain(s) broken")));
            }
            Ok(())
        }
        Command::Audit { command: AuditCommand::SealUnchained { yes } } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let runtime = |e: app::model::AppError| StartError::Runtime(e.to_string());
            let rows = audit::chain::list_unchained(&state.pool).await.map_err(runtime)?;
            for r in &rows {
                println!("{}\t{}\t{}\t{}\t{}", r.0, r.1, app::model::format_utc(r.2), r.3, r.4);
            }
            println!("{} unsealed row(s)", rows.len());
            if yes && !rows.is_empty() {
                let n = audit::chain::seal_unchained(&state.pool, &state.keys, state.clock.now_ms())
                    .await
                    .map_err(|e| StartError::Runtime(e.to_string()))?;
                println!("Sealed {n} row(s) into their chains");
            }
            Ok(())
        }
        Command::Audit { command: AuditCommand::Purge } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let now = state.clock.now_ms();
            let s = audit::retention::purge_all(&state.pool, &state.keys, now)
                .await
                .map_err(|e| StartError::Runtime(e.to_string()))?;
            println!("Purged {} events past retention ({} chains checked)", s.deleted, s.chains);
            Ok(())
        }
        Command::Tenant { command: TenantCommand::OpenConsole { tenant } } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let before =
                app::backend::network::rules::operator_open_console(&state, &tenant).await.map_err(|e| match e {
                    app::model::AppError::Validation { .. } => StartError::Config(e.to_string()),
                    other => StartError::Runtime(other.to_string()),
                })?;
            if before.is_empty() {
                println!("The console allow list was already empty.");
            } else {
                println!(
                    "Removed the console allow list ({before}); the console is reachable from anywhere not blocked."
                );
            }
            Ok(())
        }
        Command::Keys { command: KeysCommand::RotateMaster } => {
            crate::startup::secrets::rotate_master(&settings, SystemClock.now_ms()).map_err(StartError::Config)?;
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let mut conn = state.pool.acquire().await.map_err(|e| StartError::Runtime(e.to_string()))?;
            let n = app::backend::vault::keys::rewrap_all(&mut conn, &state.keys)
                .await
                .map_err(|e| StartError::Runtime(format!("re-wrapping tenant data keys: {e}")))?;
            println!(
                "New master key in place ({}); {n} tenant data key(s) re-wrapped.",
                state.keys.vault_wrap_key_id()
            );
            println!("The previous master key is kept beside it in previous/. Restart running servers now.");
            Ok(())
        }
        Command::Tenant { command: TenantCommand::PendingClosures } => {
            let pool = open_database(&settings).await?;
            let list = app::backend::organisation::closure::pending_closures(&pool)
                .await
                .map_err(|e| StartError::Runtime(e.to_string()))?;
            if list.is_empty() {
                println!("No closure is pending.");
            }
            for c in list {
                let (at, closes) = (app::model::format_utc(c.requested_at), app::model::format_utc(c.closes_at));
                println!("{}\t{}\trequested {at}\tcloses {closes}", c.tenant_id, c.name);
            }
            Ok(())
        }
        Command::Errors { command } => errors(command, &settings).await,
        Command::Support { command } => crate::startup::support_cli::execute(command, settings).await,
        Command::Tenant { command: TenantCommand::List } => {
            let state = build_state(&settings, Arc::new(SystemClock)).await?;
            let list = tenants::list_tenants(&state).await.map_err(|e| StartError::Runtime(e.to_string()))?;
            for t in list {
                println!("{}\t{}", t.id, t.name);
            }
            Ok(())
        }
    }
}

async fn errors(command: ErrorsCommand, settings: &Settings) -> Result<(), StartError> {
    use app::backend::platform::failure;
    let pool = open_database(settings).await?;
    let runtime = |e: sqlx::Error| StartError::Runtime(e.to_string());
    match command {
        ErrorsCommand::List => {
            let reports = failure::list(&pool).await.map_err(runtime)?;
            if reports.is_empty() {
                println!("No error has been recorded.");
            }
            for r in reports {
                let last = app::model::format_utc(r.last_seen);
                println!("{}\t×{}\t{last}\t{}\t{}", r.fingerprint, r.occurrences, r.kind, r.location);
            }
            Ok(())
        }
        ErrorsCommand::Show { id } => {
            let Some(r) = failure::find(&pool, &id).await.map_err(runtime)? else {
                return Err(StartError::Config(format!("no error report {id} (or the prefix is ambiguous)")));
            };
            println!("id:          {}", r.fingerprint);
            println!("kind:        {}", r.kind);
            println!("where:       {}", r.location);
            println!("status:      {}", r.status);
            println!("occurrences: {}", r.occurrences);
            println!("first seen:  {}", app::model::format_utc(r.first_seen));
            println!("last seen:   {}", app::model::format_utc(r.last_seen));
            println!("request id:  {}", r.request_id);
            println!("route:       {}", r.route);
            println!("tenant:      {}", r.tenant_id.as_deref().unwrap_or("-"));
            println!("version:     {}", r.version);
            println!("error:       {}", r.chain);
            Ok(())
        }
    }
}
