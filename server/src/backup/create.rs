//! `rampart backup create --to DIR`: a consistent backup while the server runs. Built in a hidden sibling folder
//! and renamed into place at the end, so a backup that stopped halfway never passes for one.

use super::{backup_key, files, pg, BackupError, ChainHead, FileEntry, Manifest, BLOB_DELETERS};
use crate::startup::config::Settings;
use app::backend::platform::job_lock::JobLock;
use app::backend::AppState;
use sqlx::Row as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a backup holds.
#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub blobs: usize,
    pub bytes: u64,
}

/// Makes a backup into `to`, which must not exist or be empty.
pub async fn create(settings: &Settings, state: &AppState, to: &Path) -> Result<Created, BackupError> {
    if std::fs::read_dir(to).is_ok_and(|mut d| d.next().is_some()) {
        return Err(BackupError::Refused(format!("{}: not empty; a backup goes into a new folder", to.display())));
    }
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".to_owned());
    let parent = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let work = parent.join(format!(".{name}.partial-{}", uuid::Uuid::new_v4().simple()));
    create_private_dir(&work)?;
    match build(settings, state, &work).await {
        Ok(manifest) => {
            if to.exists() {
                std::fs::remove_dir(to)?;
            }
            std::fs::rename(&work, to)?;
            let blobs = manifest.files.iter().filter(|f| f.path.starts_with("blobs/")).count();
            let bytes = manifest.files.iter().map(|f| f.bytes).sum();
            Ok(Created { dir: to.to_path_buf(), manifest, blobs, bytes })
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            Err(e)
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Waits (up to ten minutes) for each blob-deleting job's lock and holds them all.
async fn hold_deleters(state: &AppState) -> Result<Vec<JobLock>, BackupError> {
    let mut held = Vec::new();
    for job in BLOB_DELETERS {
        let started = std::time::Instant::now();
        loop {
            if let Some(lock) = JobLock::try_take(&state.pool, job).await? {
                held.push(lock);
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                return Err(BackupError::Failed(format!("the {job} job kept running for ten minutes; try again")));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(held)
}

async fn build(settings: &Settings, state: &AppState, work: &Path) -> Result<Manifest, BackupError> {
    let (key, kind) = backup_key(settings, Some(&state.keys))?;
    let locks = hold_deleters(state).await?;
    let pool = &state.pool;
    let postgres = settings.database_url.starts_with("postgres");
    let chains = sqlx::query("SELECT chain, seq, mac FROM audit_chain_heads ORDER BY chain")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(ChainHead { chain: r.try_get("chain")?, seq: r.try_get("seq")?, mac: r.try_get("mac")? }))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let migration: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(pool).await?;
    let mut entries: Vec<FileEntry> = Vec::new();

    // The database first: every vault blob it names exists until the locks are released.
    if postgres {
        let mut child = pg::dump(settings, &settings.database_url)?;
        let out = child.stdout.take().ok_or_else(|| BackupError::Failed("pg_dump: no output".to_owned()))?;
        let written = files::write(work, "database.pgdump.enc", &key, out).await;
        pg::finished(child, "pg_dump").await?;
        entries.push(written?);
    } else {
        let plain = work.join(".database.plain");
        sqlx::query("VACUUM INTO $1").bind(plain.to_string_lossy().into_owned()).execute(pool).await?;
        let file = tokio::fs::File::open(&plain).await?;
        let written = files::write(work, "database.sqlite.enc", &key, file).await;
        tokio::fs::remove_file(&plain).await?;
        entries.push(written?);
    }

    // Every blob of every tenant the database knows.
    let tenants: Vec<String> =
        sqlx::query_scalar("SELECT id FROM tenants UNION SELECT DISTINCT tenant_id FROM vault_versions ORDER BY 1")
            .fetch_all(pool)
            .await?;
    for tenant in &tenants {
        for blob in state.vault.store.list(tenant).await? {
            let reader = match state.vault.store.open(tenant, &blob).await {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // an export that expired meanwhile
                other => other?,
            };
            entries.push(files::write(work, &format!("blobs/{tenant}/{blob}.enc"), &key, reader).await?);
        }
    }
    drop(locks);

    let config = serde_json::to_vec_pretty(settings).map_err(|e| BackupError::Failed(e.to_string()))?;
    entries.push(files::write(work, "config.json.enc", &key, &config[..]).await?);
    if kind == "backup_key" {
        entries.push(files::write(work, "secrets.enc", &key, &master_keys(settings)?[..]).await?);
    }
    let mut manifest = Manifest {
        format: Manifest::FORMAT,
        created_at_ms: state.clock.now_ms(),
        database: if postgres { "postgres" } else { "sqlite" }.to_owned(),
        migration,
        key: kind.to_owned(),
        chains,
        files: entries,
        mac: String::new(),
    };
    manifest.mac = manifest.compute_mac(&key);
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Failed(e.to_string()))?;
    tokio::fs::write(work.join("manifest.json"), json).await?;
    Ok(manifest)
}

/// The master key and the retired ones, as `secrets.enc` holds them (base64, current first).
fn master_keys(settings: &Settings) -> Result<Vec<u8>, BackupError> {
    use base64::Engine as _;
    use secrecy::ExposeSecret as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let master = crate::startup::secrets::load_master_key(settings).map_err(BackupError::Refused)?;
    let previous = crate::startup::secrets::load_previous_masters(settings).map_err(BackupError::Refused)?;
    let all: Vec<String> =
        std::iter::once(b64.encode(master.expose_secret())).chain(previous.iter().map(|k| b64.encode(k))).collect();
    serde_json::to_vec(&all).map_err(|e| BackupError::Failed(e.to_string()))
}
