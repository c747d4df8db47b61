//! `rampart backup restore DIR`: verifies the backup, then fills an empty target — the configured database (a
//! SQLite file that does not exist yet, or a PostgreSQL database without tables) and blob store (no blob of any
//! tenant of the backup) — and, when the backup carries them, puts its master keys in place. A live or used
//! target is refused, never overwritten.

use super::verify::{carried_masters, pg_restore_from, verify};
use super::{backup_key, files, BackupError};
use crate::startup::config::Settings;
use std::path::Path;
use tokio::io::AsyncReadExt as _;

/// What a restore put back.
#[derive(Debug)]
pub struct Restored {
    pub blobs: usize,
    pub chains: usize,
}

pub async fn restore(settings: &Settings, dir: &Path) -> Result<Restored, BackupError> {
    let verified = verify(settings, dir).await?;
    let manifest = &verified.manifest;
    let (key, _) = backup_key(settings, None)?;
    let postgres = settings.database_url.starts_with("postgres");
    if postgres != (manifest.database == "postgres") {
        return Err(BackupError::Refused(format!(
            "the backup is of a {} database; database_url names another kind",
            manifest.database
        )));
    }
    let newest = app::backend::platform::db::newest_migration();
    if manifest.migration > newest {
        return Err(BackupError::Refused(format!(
            "the backup's database is at migration {}, newer than this build's {newest}: restore it with the build \
             that made it (or a later one)",
            manifest.migration
        )));
    }
    refuse_used_database(settings).await?;
    let vault = crate::vault_of(settings).await.map_err(|e| BackupError::Refused(e.to_string()))?;
    let blobs: Vec<(&str, &str, &str)> = manifest
        .files
        .iter()
        .filter_map(|f| {
            let rest = f.path.strip_prefix("blobs/")?.strip_suffix(".enc")?;
            let (tenant, blob) = rest.split_once('/')?;
            Some((f.path.as_str(), tenant, blob))
        })
        .collect();
    let mut tenants: Vec<&str> = blobs.iter().map(|(_, t, _)| *t).collect();
    tenants.dedup();
    for tenant in &tenants {
        if !vault.store.list(tenant).await?.is_empty() {
            return Err(BackupError::Refused(format!(
                "the blob store already holds blobs of tenant {tenant}: restore into an empty store"
            )));
        }
    }
    if manifest.files.iter().any(|f| f.path == "secrets.enc") {
        let masters = carried_masters(dir, &key).await?;
        crate::startup::secrets::install_masters(settings, &masters).map_err(BackupError::Refused)?;
    }

    if postgres {
        pg_restore_from(settings, dir, &key, &settings.database_url).await?;
    } else {
        let path = app::backend::platform::db::sqlite_path(&settings.database_url)
            .ok_or_else(|| BackupError::Refused("database_url: not a SQLite file".to_owned()))?;
        if let Some(parent) = Path::new(&path).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let partial = format!("{path}.restoring");
        let file = tokio::fs::File::create(&partial).await?;
        files::read(dir, "database.sqlite.enc", &key, file).await?;
        std::fs::rename(&partial, &path)?;
    }
    for (path, tenant, blob) in &blobs {
        restore_blob(&vault, dir, path, tenant, blob, &key).await?;
    }
    Ok(Restored { blobs: blobs.len(), chains: verified.chains.len() })
}

/// The target database must be unused: no SQLite file with content, no table in PostgreSQL's public schema.
async fn refuse_used_database(settings: &Settings) -> Result<(), BackupError> {
    if settings.database_url.starts_with("postgres") {
        let pool = sqlx::AnyPool::connect(&settings.database_url).await?;
        let tables: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
                .fetch_one(&pool)
                .await?;
        pool.close().await;
        if tables > 0 {
            return Err(BackupError::Refused(format!(
                "the database already has {tables} table(s): restore into an empty database"
            )));
        }
        return Ok(());
    }
    let path = app::backend::platform::db::sqlite_path(&settings.database_url)
        .ok_or_else(|| BackupError::Refused("database_url: not a SQLite file".to_owned()))?;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
        return Err(BackupError::Refused(format!(
            "{path} already exists: restore into a new database file (nothing was changed)"
        )));
    }
    Ok(())
}

/// Decrypts one backed-up blob into the store, streaming.
async fn restore_blob(
    vault: &app::backend::vault::Vault,
    dir: &Path,
    path: &str,
    tenant: &str,
    blob: &str,
    key: &[u8; 32],
) -> Result<(), BackupError> {
    let (tx, mut rx) = tokio::io::duplex(1 << 20);
    let reading = files::read(dir, path, key, tx);
    let writing = async {
        let mut w = vault.store.create(tenant, blob).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = rx.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if let Err(e) = w.write(buf[..n].to_vec()).await {
                w.abort().await;
                return Err(e);
            }
        }
        w.commit().await
    };
    let (read, written) = tokio::join!(reading, writing);
    written?;
    if let Err(e) = read {
        // Verified a moment ago, so unlikely; but a blob that did not read back whole is not kept.
        let _ = vault.store.delete(tenant, blob).await;
        return Err(e);
    }
    Ok(())
}
