//! Upload: the body streams through the encryptor (and clamd, when configured) into a new blob, in constant
//! memory; only when the blob is durable is the version recorded, in one transaction with its access-history
//! event. Reading it back is `read`.

use super::cipher::{blob_aad, Encryptor, CHUNK_SIZE};
use super::keys;
use super::paths;
use super::read::store_error;
use super::scan::Verdict;
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, VaultFileView};
use axum::body::Bytes;
use futures_util::{Stream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

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
    write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    path: &str,
    content_type: Option<&str>,
    body: S,
) -> Result<VaultFileView, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let received = receive(state, ctx, write, meta, path, content_type, body).await?;
    let mut files = record(state, ctx, write, meta, vec![received]).await?;
    files.pop().ok_or(AppError::NotFound)
}

/// A file whose content is stored (encrypted, durable) but not yet a version: a form of several files holds
/// them until every one has arrived, then records them all at once (`record`) or none (`discard`).
pub struct Received {
    path: paths::VaultPath,
    content_type: String,
    stored: Stored,
}

/// Streams one file into a new blob (`store_stream`); a refused one (too large, flagged, cut off) is recorded
/// in the access history as a failed upload.
pub async fn receive<S, E>(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    path: &str,
    content_type: Option<&str>,
    body: S,
) -> Result<Received, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let path = paths::file_path(path)?;
    let content_type = paths::content_type(content_type);
    match store_stream(state, ctx.tenant_id().as_str(), body, true).await {
        Ok(stored) => Ok(Received { path, content_type, stored }),
        Err(e) => {
            if matches!(e, AppError::Validation { .. }) {
                let detail = format!("{}: {}", path.path, e);
                let mut conn = state.pool.acquire().await?;
                let event = NewEvent::by(ctx, meta, "vault.upload", Outcome::Failure, &detail);
                audit::record(&mut conn, &state.keys, state.clock.now_ms(), &event).await?;
            }
            Err(e)
        }
    }
}

/// Records received files as new versions, in one transaction with their access-history events: all of them
/// or, when that fails, none (and their blobs go).
pub async fn record(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    received: Vec<Received>,
) -> Result<Vec<VaultFileView>, AppError> {
    let ids = match record_versions(state, ctx, meta, &received).await {
        Ok(ids) => ids,
        Err(e) => {
            discard(state, ctx, received).await;
            return Err(e);
        }
    };
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        files.push(super::list::file_by_id(state, ctx, &id).await?);
    }
    Ok(files)
}

/// Deletes the blobs of received files that will not be recorded (unreachable otherwise).
pub async fn discard(state: &AppState, ctx: &TenantCtx, received: Vec<Received>) {
    for r in received {
        let _ = state.vault.store.delete(ctx.tenant_id().as_str(), &r.stored.blob).await;
    }
}

async fn record_versions(
    state: &AppState,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    received: &[Received],
) -> Result<Vec<String>, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let mut ids = Vec::with_capacity(received.len());
    for Received { path, content_type, stored } in received {
        let version_id = uuid::Uuid::new_v4().to_string();
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
        insert_version(&mut tx, tenant, &object_id, &version_id, number, content_type, stored, now, &actor(ctx))
            .await?;
        let detail = format!("{} (version {number}, {} bytes, sha256 {})", path.path, stored.size, stored.sha256);
        let event = NewEvent::by(ctx, meta, "vault.upload", Outcome::Success, &detail);
        audit::record(&mut tx, &state.keys, now, &event).await?;
        ids.push(object_id);
    }
    tx.commit().await?;
    Ok(ids)
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

fn scanner_down(e: &std::io::Error) -> AppError {
    tracing::error!(error = %e, "virus scanner unavailable: upload refused");
    AppError::Unavailable
}

fn too_large(max: u64) -> AppError {
    AppError::validation("file", format!("The file is larger than the limit of {} MiB.", max >> 20))
}
