//! `rampart backup verify DIR`: the manifest's MAC, every file's size and SHA-256, every encrypted file opened
//! chunk by chunk, the database copy opened in a scratch place (a temporary SQLite file with
//! `PRAGMA integrity_check`, or a scratch PostgreSQL database restored with `pg_restore` and dropped after),
//! and every tenant's access-history chain verified inside it, holding at least the heads the manifest names.

use super::{backup_key, files, pg, BackupError, Manifest};
use crate::startup::config::Settings;
use app::backend::platform::crypto::ServerKeys;
use app::model::ChainReportView;
use std::path::Path;

/// What a verification found.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub blobs: usize,
    pub chains: Vec<ChainReportView>,
}

/// Checks the backup in `dir` end to end; the first problem is returned, naming the file.
pub async fn verify(settings: &Settings, dir: &Path) -> Result<Verified, BackupError> {
    sqlx::any::install_default_drivers();
    let (key, _) = backup_key(settings, None)?;
    let manifest = Manifest::read(dir, &key)?;
    for entry in &manifest.files {
        files::check(dir, entry).await?;
    }
    for entry in manifest.files.iter().filter(|f| !f.path.starts_with("database.")) {
        files::read(dir, &entry.path, &key, tokio::io::sink()).await?;
    }
    let keys = server_keys(settings, dir, &key, &manifest).await?;
    let chains = match manifest.database.as_str() {
        "sqlite" => {
            let scratch = tempfile::tempdir()?;
            let path = scratch.path().join("copy.db");
            let file = tokio::fs::File::create(&path).await?;
            files::read(dir, "database.sqlite.enc", &key, file).await?;
            let pool = sqlx::AnyPool::connect(&format!("sqlite://{}?mode=ro", path.display())).await?;
            let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&pool).await?;
            if check != "ok" {
                return Err(BackupError::Damaged(format!("database.sqlite.enc: integrity check: {check}")));
            }
            let chains = check_chains(&pool, &keys, &manifest).await;
            pool.close().await;
            chains?
        }
        "postgres" => {
            if !settings.database_url.starts_with("postgres") {
                return Err(BackupError::Refused(
                    "a PostgreSQL backup is checked on a PostgreSQL server: set database_url to one".to_owned(),
                ));
            }
            let (url, name) = pg::create_scratch(&settings.database_url).await?;
            let checked = restore_and_check(settings, dir, &key, &url, &keys, &manifest).await;
            pg::drop_scratch(&settings.database_url, &name).await?;
            checked?
        }
        other => return Err(BackupError::Damaged(format!("manifest.json: unknown database {other}"))),
    };
    let blobs = manifest.files.iter().filter(|f| f.path.starts_with("blobs/")).count();
    Ok(Verified { manifest, blobs, chains })
}

async fn restore_and_check(
    settings: &Settings,
    dir: &Path,
    key: &[u8; 32],
    url: &str,
    keys: &ServerKeys,
    manifest: &Manifest,
) -> Result<Vec<ChainReportView>, BackupError> {
    pg_restore_from(settings, dir, key, url).await?;
    let pool = sqlx::AnyPool::connect(url).await?;
    let chains = check_chains(&pool, keys, manifest).await;
    pool.close().await;
    chains
}

/// Streams the decrypted dump of the backup in `dir` into `pg_restore` for the database at `url`.
pub async fn pg_restore_from(settings: &Settings, dir: &Path, key: &[u8; 32], url: &str) -> Result<(), BackupError> {
    let mut child = pg::restore(settings, url)?;
    let stdin = child.stdin.take().ok_or_else(|| BackupError::Failed("pg_restore: no input".to_owned()))?;
    let fed = files::read(dir, "database.pgdump.enc", key, stdin).await;
    let done = pg::finished(child, "pg_restore").await;
    fed?;
    done
}

/// The server keys the backup's data needs: from `secrets.enc` when the backup carries them, else the
/// configured master key (and its retired ones).
pub async fn server_keys(
    settings: &Settings,
    dir: &Path,
    key: &[u8; 32],
    manifest: &Manifest,
) -> Result<ServerKeys, BackupError> {
    use secrecy::ExposeSecret as _;
    if manifest.files.iter().any(|f| f.path == "secrets.enc") {
        let masters = carried_masters(dir, key).await?;
        let (current, previous) =
            masters.split_first().ok_or_else(|| BackupError::Damaged("secrets.enc: no key".to_owned()))?;
        return Ok(ServerKeys::from_master(current, previous));
    }
    let master = crate::startup::secrets::load_master_key(settings).map_err(BackupError::Refused)?;
    let previous = crate::startup::secrets::load_previous_masters(settings).map_err(BackupError::Refused)?;
    Ok(ServerKeys::from_master(master.expose_secret(), &previous))
}

/// The master keys `secrets.enc` carries, current first.
pub async fn carried_masters(dir: &Path, key: &[u8; 32]) -> Result<Vec<[u8; 32]>, BackupError> {
    use base64::Engine as _;
    let mut plain = Vec::new();
    files::read(dir, "secrets.enc", key, &mut plain).await?;
    let list: Vec<String> =
        serde_json::from_slice(&plain).map_err(|e| BackupError::Damaged(format!("secrets.enc: {e}")))?;
    list.iter()
        .map(|b| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).ok();
            bytes.and_then(|v| <[u8; 32]>::try_from(v).ok()).ok_or_else(|| BackupError::Damaged("secrets.enc".into()))
        })
        .collect()
}

/// Every chain of the copy verifies, and each holds the event the manifest names as its head then.
async fn check_chains(
    pool: &sqlx::AnyPool,
    keys: &ServerKeys,
    manifest: &Manifest,
) -> Result<Vec<ChainReportView>, BackupError> {
    let file = manifest.files.iter().find(|f| f.path.starts_with("database.")).map(|f| f.path.as_str());
    let file = file.unwrap_or("database");
    let anchors = app::backend::audit::anchor::AnchorLog::none();
    let mut reports = Vec::new();
    let chains =
        app::backend::audit::verify::list_chains(pool).await.map_err(|e| BackupError::Failed(e.to_string()))?;
    for chain in chains {
        let report = app::backend::audit::verify::verify_chain(pool, keys, &anchors, &chain)
            .await
            .map_err(|e| BackupError::Failed(e.to_string()))?;
        if !report.ok {
            return Err(BackupError::Damaged(format!(
                "{file}: the access history of {chain} breaks at event {:?}",
                report.broken_seq
            )));
        }
        reports.push(report);
    }
    for head in &manifest.chains {
        let clause = if head.chain == "-" { "tenant_id IS NULL AND $2 = '-'" } else { "tenant_id = $2" };
        let mac: Option<String> =
            sqlx::query_scalar(&format!("SELECT mac FROM audit_events WHERE seq = $1 AND {clause}"))
                .bind(head.seq)
                .bind(&head.chain)
                .fetch_optional(pool)
                .await?;
        if mac.as_deref() != Some(head.mac.as_str()) {
            return Err(BackupError::Damaged(format!(
                "{file}: the access history of {} lacks event {} the backup began with",
                head.chain, head.seq
            )));
        }
    }
    Ok(reports)
}
