//! Download: a stored version streams back through the decryptor, chunk by authenticated chunk; a chunk that
//! fails authentication ends the response early, so an altered file never arrives as if complete.

use super::cipher::{blob_aad, Decryptor, CHUNK_SIZE};
use super::keys;
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use axum::body::Bytes;
use futures_util::{Stream, StreamExt as _};
use sqlx::Row as _;
use tokio::io::AsyncReadExt as _;

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
        Some(Err(e)) => return Err(crate::backend::platform::failure::internal("vault integrity", e)),
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
    // Fused: the HTTP/2 writer may poll a body again after its end, which an unfused unfold does not allow.
    Ok(Box::pin(futures_util::StreamExt::fuse(stream)))
}

fn tampered(what: String) -> std::io::Error {
    tracing::error!("vault read refused: {what}");
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

#[track_caller]
pub(super) fn store_error(e: std::io::Error) -> AppError {
    if e.kind() == std::io::ErrorKind::NotFound {
        tracing::error!(error = %e, "vault blob missing");
        AppError::NotFound
    } else {
        crate::backend::platform::failure::internal("vault storage", e)
    }
}
