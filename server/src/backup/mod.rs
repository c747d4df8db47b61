//! Backups that verify and restore (`rampart backup create|verify|restore`, and the schedule in `jobs::backup`).
//!
//! A backup is a folder:
//! - `database.sqlite.enc` (SQLite, copied with `VACUUM INTO` while serving) or `database.pgdump.enc`
//!   (PostgreSQL, `pg_dump -Fc`, streamed: no plaintext copy touches the disk);
//! - `blobs/<tenant>/<blob>.enc`: every blob of the store (local or S3), so a lost bucket restores too;
//! - `config.json.enc`: the settings, without their secrets;
//! - `secrets.enc` (only with an operator `backup_key`): the master key and the retired ones, so that a lost
//!   server does not take the means to restore with it;
//! - `manifest.json`: format, time, database kind, migration version, the access-history chain heads, every
//!   file's size and SHA-256, and an HMAC-SHA-256 of all that.
//!
//! Every `.enc` file is the vault's chunked AES-256-GCM format (`app::backend::vault::cipher`) under the backup
//! key — the operator's `backup_key`, or one derived from the master key — with the file's own path as
//! associated data, so a file swapped for another of the backup fails. The jobs that delete vault blobs (bin
//! purge, key rotation, closures) wait while a backup runs, and the database is copied first, so every vault
//! blob it names is in the backup. (A data export that expires meanwhile may lose its archive: exports live
//! 24 hours and are made again.)

pub mod cli;
pub mod create;
pub mod files;
pub mod pg;
pub mod restore;
pub mod verify;

use serde::{Deserialize, Serialize};

/// The jobs whose passes delete vault blobs: a backup holds their locks while it copies.
pub const BLOB_DELETERS: [&str; 3] = ["vault_purge", "vault_rotation", "tenant_closure"];

/// The folder's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub created_at_ms: i64,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The newest migration applied to the copied database.
    pub migration: i64,
    /// `master` (derived from the master key) or `backup_key` (the operator's).
    pub key: String,
    pub chains: Vec<ChainHead>,
    pub files: Vec<FileEntry>,
    /// HMAC-SHA-256 (hex) of the manifest with this field empty, under the backup key.
    #[serde(default)]
    pub mac: String,
}

/// An access-history chain's head when the backup began: the copy holds at least this.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainHead {
    pub chain: String,
    pub seq: i64,
    pub mac: String,
}

/// One file of the backup, as stored (encrypted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Why a backup could not be made, checked or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The operator's mistake (a non-empty target, a missing folder, a wrong key): exit code 2.
    #[error("{0}")]
    Refused(String),
    /// The backup is damaged: names what.
    #[error("{0}")]
    Damaged(String),
    #[error("{0}")]
    Failed(String),
}

impl From<std::io::Error> for BackupError {
    fn from(e: std::io::Error) -> Self {
        Self::Failed(e.to_string())
    }
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        Self::Failed(format!("database: {e}"))
    }
}

impl Manifest {
    pub const FORMAT: u32 = 1;

    /// The MAC over everything but the MAC itself.
    pub fn compute_mac(&self, key: &[u8; 32]) -> String {
        use hmac::Mac as _;
        let unsigned = Manifest { mac: String::new(), ..self.clone() };
        let bytes = serde_json::to_vec(&unsigned).unwrap_or_default();
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(b"rampart-backup-manifest-v1\n");
        mac.update(&bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Reads `dir/manifest.json` and checks its MAC under `key`.
    pub fn read(dir: &std::path::Path, key: &[u8; 32]) -> Result<Self, BackupError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read(&path)
            .map_err(|e| BackupError::Refused(format!("{}: {e} (not a Rampart backup?)", path.display())))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| BackupError::Damaged(format!("manifest.json: {e}")))?;
        let expected = manifest.compute_mac(key);
        if !app::backend::platform::crypto::constant_time_eq(expected.as_bytes(), manifest.mac.as_bytes()) {
            return Err(BackupError::Damaged(
                "manifest.json: its MAC does not match: altered, or made under another key (backup_key / master key)"
                    .to_owned(),
            ));
        }
        if manifest.format != Self::FORMAT {
            return Err(BackupError::Refused(format!("manifest.json: format {} is not known", manifest.format)));
        }
        Ok(manifest)
    }
}

/// The key of the backups: the operator's `backup_key` when set, else derived from the master key.
pub fn backup_key(
    settings: &crate::startup::config::Settings,
    keys: Option<&app::backend::platform::crypto::ServerKeys>,
) -> Result<([u8; 32], &'static str), BackupError> {
    use base64::Engine as _;
    use secrecy::ExposeSecret as _;
    if let Some(k) = settings.backup_key.as_ref().filter(|k| !k.expose_secret().trim().is_empty()) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(k.expose_secret().trim())
            .map_err(|_| BackupError::Refused("backup_key: not base64".to_owned()))?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|_| BackupError::Refused("backup_key: must be 32 bytes".to_owned()))?;
        return Ok((key, "backup_key"));
    }
    match keys {
        Some(keys) => Ok((*keys.backup_key(), "master")),
        None => {
            let master = crate::startup::secrets::existing_master_key(settings).map_err(BackupError::Refused)?;
            let master = master.ok_or_else(|| {
                BackupError::Refused(
                    "no master key here: set master_key (or master_key_file) to the one the backup was made \
                     under, or backup_key when it was made with one"
                        .to_owned(),
                )
            })?;
            let keys = app::backend::platform::crypto::ServerKeys::from_master(master.expose_secret(), &[]);
            Ok((*keys.backup_key(), "master"))
        }
    }
}

/// Notes a completed backup.
pub async fn record(pool: &sqlx::AnyPool, made: &create::Created) -> Result<(), BackupError> {
    sqlx::query("INSERT INTO backup_runs (id, created_at, dir, files, bytes) VALUES ($1, $2, $3, $4, $5)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(made.manifest.created_at_ms)
        .bind(made.dir.display().to_string())
        .bind(i64::try_from(made.manifest.files.len()).unwrap_or(i64::MAX))
        .bind(i64::try_from(made.bytes).unwrap_or(i64::MAX))
        .execute(pool)
        .await?;
    Ok(())
}

/// The last completed backup: when, and where.
pub async fn last_good(pool: &sqlx::AnyPool) -> Result<Option<(i64, String)>, BackupError> {
    Ok(sqlx::query_as("SELECT created_at, dir FROM backup_runs ORDER BY created_at DESC LIMIT 1")
        .fetch_optional(pool)
        .await?)
}

/// A duration for people: `3 d 4 h`, `2 h 5 min`, `40 s`.
pub fn age(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
