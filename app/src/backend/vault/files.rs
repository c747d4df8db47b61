//! Upload and download. An upload streams the body through the encryptor (and clamd, when configured) into a
//! new blob, in constant memory; only when the blob is durable is the version recorded, in one transaction with
//! its access-history event. A download streams the blob back through the decryptor: a chunk that fails
//! authentication ends the response early, so an altered file never arrives as if complete.

use super::cipher::{blob_aad, Decryptor, Encryptor, CHUNK_SIZE};
use super::keys;
use super::paths;
use super::scan::Verdict;
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::context::{perm, Granted, TenantCtx};
use crate::backend::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, VaultFileView};
use axum::body::Bytes;
use futures_util::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use tokio::io::AsyncReadExt as _;

/// What was stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub blob: String,
    pub key_version: i64,
    pub size: i64,
    pub sha256: String,
}

/// Encrypts a stream into a new blob of the tenant under its active key; returns what was stored. Refuses a
/// body over the size limit, and (with a scanner, when `scan`) a flagged one; nothing is left behind on any
/// failure. Re-encryptions of stored blobs pass `scan = false`: they were scanned on the way in.
pub async fn store_stream<S, E>(state: &AppState, tenant_id: &str, body: S, scan: bool) -> Result<Stored, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let now = state.clock.now_ms();
    let key = {
        let mut conn = state.pool.acquire().await?;
        keys::active(&mut conn, &state.keys, tenant_id, now).await?
    };
    let blob = uuid::Uuid::new_v4().to_string();
    // The scanner first: when it is down, nothing has been created to clean up.
    let mut scan = match &state.vault.scanner {
        Some(c) if scan => Some(c.start().await.map_err(|e| scanner_down(&e))?),
        _ => None,
    };
    // From here every failure goes through `abort`, which returns once the partial file is gone.
    let mut writer = state.vault.store.create(tenant_id, &blob).await.map_err(store_error)?;
    let mut enc = Encryptor::new(&key.key, blob_aad(tenant_id, &blob));
    let mut hash = Sha256::new();
    let mut size: u64 = 0;
    let mut out = Vec::with_capacity(2 * CHUNK_SIZE);
    let mut body = std::pin::pin!(body);
    let result: Result<(), AppError> = async {
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|e| AppError::validation("file", format!("The upload was interrupted: {e}")))?;
            size += piece.len() as u64;
            if size > state.vault.max_file_bytes {
                return Err(too_large(state.vault.max_file_bytes));
            }
            hash.update(&piece);
            if let Some(s) = &mut scan {
                s.feed(&piece).await.map_err(|e| scanner_down(&e))?;
            }
            enc.push(&piece, &mut out);
            if out.len() >= CHUNK_SIZE {
                let full = std::mem::replace(&mut out, Vec::with_capacity(2 * CHUNK_SIZE));
                writer.write(full).await.map_err(store_error)?;
            }
        }
        enc.finish(&mut out);
        writer.write(std::mem::take(&mut out)).await.map_err(store_error)?;
        if let Some(s) = scan.take() {
            if let Verdict::Infected(name) = s.finish().await.map_err(|e| scanner_down(&e))? {
                return Err(AppError::validation("file", format!("The virus scanner flagged this file ({name}).")));
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        writer.abort().await;
        return Err(e);
    }
    writer.commit().await.map_err(store_error)?;
    Ok(Stored { blob, key_version: key.version, size: size as i64, sha256: hex::encode(hash.finalize()) })
}

/// Uploads a file to `path` (a new file, or a new version of an existing one; a deleted file at that path is
/// brought back with the new version).
pub async fn upload<S, E>(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    path: &str,
    content_type: Option<&str>,
    body: S,
) -> Result<VaultFileView, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let path = paths::file_path(path)?;
    let content_type = paths::content_type(content_type);
    let stored = match store_stream(state, ctx.tenant_id().as_str(), body, true).await {
        Ok(s) => s,
        Err(e) => {
            if matches!(e, AppError::Validation { .. }) {
                let detail = format!("{}: {}", path.path, e);
                let mut conn = state.pool.acquire().await?;
                let event = NewEvent::by(ctx, meta, "vault.upload", Outcome::Failure, &detail);
                audit::record(&mut conn, &state.keys, state.clock.now_ms(), &event).await?;
            }
            return Err(e);
        }
    };
    match record_version(state, ctx, meta, &path, &content_type, &stored).await {
        Ok(id) => super::list::file_by_id(state, ctx, &id).await,
        Err(e) => {
            // Not recorded: the blob would be unreachable, so it goes.
            let _ = state.vault.store.delete(ctx.tenant_id().as_str(), &stored.blob).await;
            Err(e)
        }
    }
}

async fn record_version(
    state: &AppState,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    path: &paths::VaultPath,
    content_type: &str,
    stored: &Stored,
) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let version_id = uuid::Uuid::new_v4().to_string();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    sqlx::query(
        "INSERT INTO vault_objects (id, tenant_id, path, folder, name, name_key, current_version_id, size, \
         versions, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9) \
         ON CONFLICT (tenant_id, path) DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(tenant)
    .bind(&path.path)
    .bind(&path.folder)
    .bind(&path.name)
    .bind(path.name.to_lowercase())
    .bind(&version_id)
    .bind(stored.size)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let row = sqlx::query(
        "UPDATE vault_objects SET versions = versions + 1, current_version_id = $1, size = $2, updated_at = $3, \
         deleted_at = NULL, deleted_by = NULL WHERE tenant_id = $4 AND path = $5 RETURNING id, versions",
    )
    .bind(&version_id)
    .bind(stored.size)
    .bind(now)
    .bind(tenant)
    .bind(&path.path)
    .fetch_one(&mut *tx)
    .await?;
    let object_id: String = row.try_get("id")?;
    let number: i64 = row.try_get("versions")?;
    insert_version(&mut tx, tenant, &object_id, &version_id, number, content_type, stored, now, &actor(ctx)).await?;
    let detail = format!("{} (version {number}, {} bytes, sha256 {})", path.path, stored.size, stored.sha256);
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "vault.upload", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(object_id)
}

/// Records one version row.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    object_id: &str,
    version_id: &str,
    number: i64,
    content_type: &str,
    stored: &Stored,
    now: i64,
    by: &str,
) -> Result<(), AppError> {
    // The data key the blob was sealed under must still exist when the version commits: a rotation may have
    // destroyed it while the body streamed. Touching the key row locks it until this transaction ends, so the
    // rotation's delete (which takes the same row first, `rotation::run_one`) and this commit are ordered one
    // way or the other, never interleaved.
    let key_alive = sqlx::query("UPDATE vault_data_keys SET version = version WHERE tenant_id = $1 AND version = $2")
        .bind(tenant)
        .bind(stored.key_version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if key_alive != 1 {
        return Err(AppError::Conflict {
            msg: "The organisation's data key was rotated while the file was being sent; nothing was stored. \
                  Upload it again."
                .into(),
        });
    }
    sqlx::query(
        "INSERT INTO vault_versions (id, object_id, tenant_id, number, size, sha256, content_type, blob, \
         key_version, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(version_id)
    .bind(object_id)
    .bind(tenant)
    .bind(number)
    .bind(stored.size)
    .bind(&stored.sha256)
    .bind(content_type)
    .bind(&stored.blob)
    .bind(stored.key_version)
    .bind(now)
    .bind(by)
    .execute(conn)
    .await?;
    Ok(())
}

/// How versions name who made them: the member's email, or the key.
pub(super) fn actor(ctx: &TenantCtx) -> String {
    ctx.actor().to_owned()
}

/// A download about to stream.
pub struct Download {
    pub object_id: String,
    pub version_id: String,
    pub number: i64,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub body: PlainStream,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download").field("version_id", &self.version_id).field("size", &self.size).finish()
    }
}

/// Plaintext of a blob, as it is authenticated.
pub type PlainStream = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Opens a file (its current version, or the one given) for download, and records the download.
pub async fn download(
    state: &AppState,
    ctx: &TenantCtx,
    _read: &Granted<perm::VaultRead>,
    meta: &RequestMeta,
    object_id: &str,
    version_id: Option<&str>,
) -> Result<Download, AppError> {
    let download = open_version(state, ctx.tenant_id().as_str(), object_id, version_id, false).await?;
    let detail = format!("{} (version {}, {} bytes)", download.name, download.number, download.size);
    let mut conn = state.pool.acquire().await?;
    let event = NewEvent::by(ctx, meta, "vault.download", Outcome::Success, &detail);
    audit::record(&mut conn, &state.keys, state.clock.now_ms(), &event).await?;
    Ok(download)
}

/// Opens a version of a tenant's file (the current one when `version_id` is `None`); soft-deleted files only
/// when `deleted_ok`. Ids of another tenant are simply not found.
pub async fn open_version(
    state: &AppState,
    tenant_id: &str,
    object_id: &str,
    version_id: Option<&str>,
    deleted_ok: bool,
) -> Result<Download, AppError> {
    let mut conn = state.pool.acquire().await?;
    let row = sqlx::query(
        "SELECT o.name, o.deleted_at, v.id, v.number, v.size, v.sha256, v.content_type, v.blob, v.key_version \
         FROM vault_objects o JOIN vault_versions v ON v.object_id = o.id AND v.tenant_id = o.tenant_id \
         WHERE o.tenant_id = $1 AND o.id = $2 AND v.id = COALESCE($3, o.current_version_id)",
    )
    .bind(tenant_id)
    .bind(object_id)
    .bind(version_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    if !deleted_ok && row.try_get::<Option<i64>, _>("deleted_at")?.is_some() {
        return Err(AppError::NotFound);
    }
    let blob: String = row.try_get("blob")?;
    let key = keys::by_version(&mut conn, &state.keys, tenant_id, row.try_get("key_version")?).await?;
    drop(conn);
    let mut body = plain_stream(state, tenant_id, &blob, &key.key).await?;
    // The first chunk is checked before anything is answered: a body that fails at once (altered, swapped or
    // unreadable) is a clear error, not a response cut off after its headers.
    let first = match body.next().await {
        Some(Err(e)) => {
            let op_id = crate::backend::crypto::op_id();
            tracing::error!(op_id = %op_id, error = %e, "vault file failed its integrity check");
            return Err(AppError::Internal { op_id });
        }
        other => other,
    };
    let body: PlainStream = Box::pin(futures_util::stream::iter(first).chain(body));
    Ok(Download {
        object_id: object_id.to_owned(),
        version_id: row.try_get("id")?,
        number: row.try_get("number")?,
        name: row.try_get("name")?,
        content_type: row.try_get("content_type")?,
        size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or(0),
        sha256: row.try_get("sha256")?,
        body,
    })
}

/// Streams a blob's plaintext, chunk by authenticated chunk.
pub async fn plain_stream(
    state: &AppState,
    tenant_id: &str,
    blob: &str,
    key: &[u8; 32],
) -> Result<PlainStream, AppError> {
    let reader = state.vault.store.open(tenant_id, blob).await.map_err(store_error)?;
    let dec = Decryptor::new(key, blob_aad(tenant_id, blob));
    let stream = futures_util::stream::unfold(Some((reader, dec)), |st| async move {
        let (mut reader, mut dec) = st?;
        let mut input = vec![0u8; CHUNK_SIZE + 4096];
        let mut out = Vec::with_capacity(CHUNK_SIZE + 4096);
        loop {
            match reader.read(&mut input).await {
                Err(e) => return Some((Err(e), None)),
                Ok(0) => {
                    return match dec.finish(&mut out) {
                        Ok(()) if out.is_empty() => None,
                        Ok(()) => Some((Ok(Bytes::from(out)), None)),
                        Err(e) => Some((Err(tampered(e.to_string())), None)),
                    }
                }
                Ok(n) => {
                    if let Err(e) = dec.push(&input[..n], &mut out) {
                        return Some((Err(tampered(e.to_string())), None));
                    }
                    if out.len() >= CHUNK_SIZE {
                        return Some((Ok(Bytes::from(out)), Some((reader, dec))));
                    }
                }
            }
        }
    });
    Ok(Box::pin(stream))
}

fn tampered(what: String) -> std::io::Error {
    tracing::error!("vault read refused: {what}");
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

pub(super) fn store_error(e: std::io::Error) -> AppError {
    let op_id = crate::backend::crypto::op_id();
    tracing::error!(op_id = %op_id, error = %e, "vault storage failed");
    if e.kind() == std::io::ErrorKind::NotFound {
        AppError::NotFound
    } else {
        AppError::Internal { op_id }
    }
}

fn scanner_down(e: &std::io::Error) -> AppError {
    tracing::error!(error = %e, "virus scanner unavailable: upload refused");
    AppError::Unavailable
}

fn too_large(max: u64) -> AppError {
    AppError::validation("file", format!("The file is larger than the limit of {} MiB.", max >> 20))
}
