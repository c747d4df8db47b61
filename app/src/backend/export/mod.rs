//! Data exports ("download all our data", GDPR art. 15 and 20): one ZIP of everything Rampart holds for a
//! tenant, built in the background.
//!
//! Policy:
//! - Starting one needs the `export` feature and a fresh proof: a console step-up (10 minutes), or a master key
//!   (the only keys with the feature). One export at a time per tenant is built; a second request while one is
//!   queued or running is a conflict.
//! - The ZIP (`zip`: stored, ZIP64, data descriptors) streams through the vault's encryptor under the tenant's
//!   active data key into a blob of the tenant: never plaintext on disk, memory bounded by a few MiB whatever
//!   the size. Its `manifest.json` lists every entry's name, size and SHA-256, signed with Ed25519 by a key
//!   derived from the master key (`manifest.sig`, `signing-key.pub`; public at `/.well-known/rampart-export-key`).
//! - Only the requester downloads it — the same account from the console, the same key from the API — for 24
//!   hours after it is ready; then the job deletes the blob and marks the export expired.
//! - Start, ready, download, failure and expiry are access-history events (`data_export.*`); the requester gets
//!   an email when it is ready.
//! - The job's state lives in `data_exports`, so it survives a restart: a running export whose worker stopped
//!   (no heartbeat for `job::STALE_MS`) is restarted from scratch, its partial blob deleted (`job`).

pub mod job;
pub mod records;
pub mod zip;

use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::keys::verify::ApiPrincipal;
use crate::backend::platform::clock::HOUR_MS;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, DataExportView, DataExportsView, ExportState, KeyKind};
use sqlx::Row as _;
use std::sync::Arc;

/// How long a ready export can be downloaded.
pub const DOWNLOAD_TTL_MS: i64 = 24 * HOUR_MS;

/// The export worker's shared parts, in the app state.
#[derive(Debug, Clone)]
pub struct Exports {
    /// Wakes the worker when an export is requested.
    pub wake: Arc<tokio::sync::Notify>,
    /// One worker pass at a time in this process.
    pass: Arc<tokio::sync::Mutex<()>>,
    /// This process's worker id, written on the rows it runs.
    worker: Arc<str>,
}

impl Default for Exports {
    fn default() -> Self {
        Self { wake: Arc::default(), pass: Arc::default(), worker: uuid::Uuid::new_v4().to_string().into() }
    }
}

impl Exports {
    /// This process's worker id (the name of its instance lock, `platform::job_lock::hold_instance`).
    pub fn worker_id(&self) -> &str {
        &self.worker
    }
}

/// How a request proves it is fresh.
#[derive(Debug, Clone, Copy)]
pub enum Fresh<'a> {
    /// A console session that stepped up within 10 minutes.
    SteppedUp(&'a SteppedUp),
    /// A master API key.
    MasterKey(&'a ApiPrincipal),
}

const COLUMNS: &str = "id, account_id, key_id, requested_by, state, done_entries, total_entries, done_bytes, \
                       total_bytes, size, error, created_at, finished_at, expires_at";

fn view_of(r: &sqlx::any::AnyRow, ctx: &TenantCtx) -> Result<DataExportView, AppError> {
    let state: String = r.try_get("state")?;
    let account: String = r.try_get("account_id")?;
    let key: Option<String> = r.try_get("key_id")?;
    Ok(DataExportView {
        id: r.try_get("id")?,
        state: ExportState::parse(&state).unwrap_or(ExportState::Failed),
        requested_by: r.try_get("requested_by")?,
        mine: is_requester(ctx, &account, key.as_deref()),
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        expires_at: r.try_get("expires_at")?,
        done_entries: r.try_get("done_entries")?,
        total_entries: r.try_get("total_entries")?,
        done_bytes: r.try_get("done_bytes")?,
        total_bytes: r.try_get("total_bytes")?,
        size: r.try_get("size")?,
        error: r.try_get("error")?,
    })
}

/// The same account from the console, the same key from the API.
fn is_requester(ctx: &TenantCtx, account_id: &str, key_id: Option<&str>) -> bool {
    ctx.account_id().as_str() == account_id && ctx.api_key() == key_id
}

/// Queues an export of the actor's tenant and wakes the worker.
pub async fn request(
    state: &AppState,
    ctx: &TenantCtx,
    granted: &Granted<perm::Export>,
    fresh: Fresh<'_>,
    meta: &RequestMeta,
    cleared: &crate::backend::access::four_eyes::Cleared,
) -> Result<DataExportView, AppError> {
    cleared.covers(&crate::backend::access::four_eyes::Act::DataExport)?;
    match fresh {
        Fresh::SteppedUp(_) if ctx.api_key().is_none() => {}
        Fresh::MasterKey(p) if p.kind == KeyKind::Master && ctx.api_key() == Some(p.key_id.as_str()) => {}
        _ => return Err(AppError::Forbidden),
    }
    let now = state.clock.now_ms();
    let id = uuid::Uuid::new_v4().to_string();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let busy: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM data_exports WHERE tenant_id = $1 AND state IN ('queued', 'running')")
            .bind(ctx.tenant_id().as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
    if busy > 0 {
        return Err(AppError::Conflict { msg: "An export is already being built; wait for it to finish.".to_owned() });
    }
    sqlx::query(
        "INSERT INTO data_exports (id, tenant_id, account_id, key_id, requested_by, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6)",
    )
    .bind(&id)
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.account_id().as_str())
    .bind(ctx.api_key())
    .bind(ctx.actor())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let detail = format!("export {id} requested");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "data_export.start", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.exports.wake.notify_one();
    get(state, ctx, granted, &id).await
}

/// One export of the actor's tenant.
pub async fn get(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::Export>,
    id: &str,
) -> Result<DataExportView, AppError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM data_exports WHERE tenant_id = $1 AND id = $2"))
        .bind(ctx.tenant_id().as_str())
        .bind(id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    view_of(&row, ctx)
}

/// The data export page: the tenant's 20 latest exports and the viewer's step-up state.
pub async fn page(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::Export>,
    step_up_valid_until: Option<i64>,
) -> Result<DataExportsView, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM data_exports WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 20"
    ))
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&mut *conn)
    .await?;
    let exports = rows.iter().map(|r| view_of(r, ctx)).collect::<Result<Vec<_>, _>>()?;
    let two_factor_enabled = crate::backend::identity::two_factor::is_enabled(&mut conn, ctx.account_id()).await?;
    Ok(DataExportsView { exports, step_up_valid_until, two_factor_enabled })
}

/// A ready export about to stream.
pub struct ExportDownload {
    pub file_name: String,
    pub size: u64,
    pub body: crate::backend::vault::read::PlainStream,
}

impl std::fmt::Debug for ExportDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportDownload").field("file_name", &self.file_name).field("size", &self.size).finish()
    }
}

/// Opens a ready export for its requester (anyone else, or after 24 hours: not found) and records the download.
pub async fn download(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::Export>,
    meta: &RequestMeta,
    id: &str,
) -> Result<ExportDownload, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut conn = state.pool.acquire().await?;
    let row = sqlx::query(
        "SELECT account_id, key_id, state, blob, key_version, size, expires_at, created_at FROM data_exports \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let account: String = row.try_get("account_id")?;
    let key_id: Option<String> = row.try_get("key_id")?;
    let state_now: String = row.try_get("state")?;
    let ready = state_now == ExportState::Ready.as_str();
    let live = row.try_get::<Option<i64>, _>("expires_at")?.is_some_and(|t| t > now);
    let pending = [ExportState::Queued.as_str(), ExportState::Running.as_str()].contains(&state_now.as_str());
    if is_requester(ctx, &account, key_id.as_deref()) && pending {
        return Err(AppError::Conflict { msg: "The export is not ready yet: it is being prepared.".into() });
    }
    let (Some(blob), Some(version)) =
        (row.try_get::<Option<String>, _>("blob")?, row.try_get::<Option<i64>, _>("key_version")?)
    else {
        return Err(AppError::NotFound);
    };
    if !is_requester(ctx, &account, key_id.as_deref()) || !ready || !live {
        return Err(AppError::NotFound);
    }
    let key = crate::backend::vault::keys::by_version(&mut conn, &state.keys, tenant, version).await?;
    let body = crate::backend::vault::read::plain_stream(state, tenant, &blob, &key.key).await?;
    let size = u64::try_from(row.try_get::<Option<i64>, _>("size")?.unwrap_or(0)).unwrap_or(0);
    let detail = format!("export {id} ({size} bytes)");
    audit::record(
        &mut conn,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "data_export.download", Outcome::Success, &detail),
    )
    .await?;
    let day = crate::model::format_rfc3339(row.try_get("created_at")?).get(..10).unwrap_or("export").to_owned();
    Ok(ExportDownload { file_name: format!("rampart-export-{day}.zip"), size, body })
}
