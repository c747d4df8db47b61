//! The `rampart backup` commands and `rampart status`.

use super::BackupError;
use crate::startup::config::Settings;
use crate::StartError;
use app::backend::platform::clock::SystemClock;
use clap::Subcommand;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Make a backup now, while the server runs: database, every blob, settings without secrets, a manifest
    /// with the SHA-256 of every file and the access-history heads; all encrypted.
    Create {
        /// A new (or empty) folder.
        #[arg(long)]
        to: PathBuf,
    },
    /// Check a backup end to end: every hash, every encrypted file, the database copy opened in a scratch
    /// place, every tenant's access history verified in it. Exit 1 naming the first damaged file.
    Verify { dir: PathBuf },
    /// Verify, then restore into the configured (empty) database, blob store and data folder.
    Restore { dir: PathBuf },
}

fn start_error(e: BackupError) -> StartError {
    match e {
        BackupError::Refused(m) => StartError::Config(m),
        BackupError::Damaged(m) => StartError::Runtime(format!("the backup is damaged: {m}")),
        BackupError::Failed(m) => StartError::Runtime(m),
    }
}

pub async fn execute(command: BackupCommand, settings: Settings) -> Result<(), StartError> {
    match command {
        BackupCommand::Create { to } => {
            let state = crate::build_state(&settings, Arc::new(SystemClock)).await?;
            let made = super::create::create(&settings, &state, &to).await.map_err(start_error)?;
            super::record(&state.pool, &made).await.map_err(start_error)?;
            println!(
                "Backup written to {}: {} database, {} blob(s), {} file(s), {} bytes, {} access-history chain(s)",
                made.dir.display(),
                made.manifest.database,
                made.blobs,
                made.manifest.files.len(),
                made.bytes,
                made.manifest.chains.len()
            );
            Ok(())
        }
        BackupCommand::Verify { dir } => {
            let v = super::verify::verify(&settings, &dir).await.map_err(start_error)?;
            let events: i64 = v.chains.iter().map(|c| c.checked).sum();
            println!(
                "Backup {} is intact: {} file(s) match the manifest, {} blob(s) decrypt, the {} database opens, \
                 {} chain(s) verify ({events} event(s))",
                dir.display(),
                v.manifest.files.len(),
                v.blobs,
                v.manifest.database,
                v.chains.len()
            );
            Ok(())
        }
        BackupCommand::Restore { dir } => {
            let r = super::restore::restore(&settings, &dir).await.map_err(start_error)?;
            println!(
                "Restored from {}: the database, {} blob(s); {} access-history chain(s) verified. Start the server now.",
                dir.display(),
                r.blobs,
                r.chains
            );
            Ok(())
        }
    }
}

/// `rampart status`: the database, its migration, the tenants, and the last good backup.
pub async fn status(settings: Settings) -> Result<(), StartError> {
    let pool = crate::open_database(&settings).await?;
    let db = |e: sqlx::Error| StartError::Runtime(format!("database: {e}"));
    let migration: i64 =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(&pool).await.map_err(db)?;
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(&pool).await.map_err(db)?;
    let kind = if settings.database_url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
    println!("database:     {kind}, migration {migration}");
    println!("blob store:   {:?}", settings.blob_store);
    println!("tenants:      {tenants}");
    let now = app::backend::platform::clock::Clock::now_ms(&SystemClock);
    match super::last_good(&pool).await.map_err(start_error)? {
        Some((at, dir)) => println!("last backup:  {} ago, {dir}", super::age((now - at).max(0))),
        None => println!("last backup:  none"),
    }
    Ok(())
}
