//! The export worker. [`run_pending`] is one pass: expire ready exports past their 24 hours, restart running
//! ones whose worker stopped (a crash or a restart: the partial blob is deleted, the progress reset), then build
//! every queued export, oldest first. The server's job loop calls it at start-up, every few seconds and when a
//! request wakes it; tests call it directly. Rows are claimed with a conditional update, so instances sharing a
//! database never build the same export twice.
//!
//! Building streams every entry through the ZIP writer into the vault's encryptor and on into the blob: the
//! largest buffers are the encryptor's chunk and the vault reader's (about 1 MiB each). Per byte, only CRC-32,
//! SHA-256 and AES-GCM (decrypting the vault file, encrypting the archive) run, all hardware-accelerated.

use super::records::{self, VaultItem};
use super::zip::{Sink, Written, ZipWriter};
use super::DOWNLOAD_TTL_MS;
use crate::backend::alerts::notify::{self, Notice};
use crate::backend::audit::export::{stream_all, Format};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::clock::SECOND_MS;
use crate::backend::platform::ids::{AccountId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::vault::cipher::{blob_aad, Encryptor, CHUNK_SIZE};
use crate::backend::vault::store::BlobWriter;
use crate::backend::vault::{keys, read};
use crate::backend::AppState;
use crate::model::AppError;
use base64::Engine as _;
use futures_util::StreamExt as _;
use sqlx::Row as _;
use std::collections::HashMap;

/// A running export whose heartbeat is older than this is taken to have lost its worker.
pub const STALE_MS: i64 = 60 * SECOND_MS;
/// Tries before an export that keeps losing its worker is given up.
const MAX_ATTEMPTS: i64 = 3;
/// Progress is written at most this often (and at the end of every entry), in real time.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// One pass of the worker; returns how many exports it built (ready or failed).
pub async fn run_pending(state: &AppState) -> Result<u64, AppError> {
    let _pass = state.exports.pass.lock().await;
    expire_due(state).await?;
    restart_stale(state).await?;
    let mut built = 0;
    while let Some(job) = claim_next(state).await? {
        match build(state, &job).await {
            Ok(size) => ready(state, &job, size).await?,
            Err(e) => failed(state, &job, &e).await?,
        }
        built += 1;
    }
    Ok(built)
}

/// A claimed export.
#[derive(Debug, Clone)]
struct Job {
    id: String,
    tenant_id: TenantId,
    account_id: AccountId,
    key_id: Option<String>,
    requested_by: String,
    blob: Option<String>,
}

fn job_of(r: &sqlx::any::AnyRow) -> Result<Job, AppError> {
    Ok(Job {
        id: r.try_get("id")?,
        tenant_id: TenantId(r.try_get("tenant_id")?),
        account_id: AccountId(r.try_get("account_id")?),
        key_id: r.try_get("key_id")?,
        requested_by: r.try_get("requested_by")?,
        blob: r.try_get("blob")?,
    })
}

const JOB_COLUMNS: &str = "id, tenant_id, account_id, key_id, requested_by, blob, attempts, heartbeat_at";

/// Records a job's event in its tenant's access history, with the requester as the member concerned.
async fn record(state: &AppState, job: &Job, action: &str, outcome: Outcome, detail: &str) -> Result<(), AppError> {
    let mut conn = state.pool.acquire().await?;
    audit::record(&mut conn, &state.keys, state.clock.now_ms(), &event(job, action, outcome, detail)).await
}

/// Where the export worker's events come from: no request, the worker itself.
static EXPORT_META: std::sync::LazyLock<RequestMeta> =
    std::sync::LazyLock::new(|| RequestMeta { ip: "-".to_owned(), user_agent: "rampart data export".to_owned() });

/// The export worker's event about `job`.
fn event<'a>(job: &'a Job, action: &'a str, outcome: Outcome, detail: &'a str) -> NewEvent<'a> {
    NewEvent {
        tenant_id: Some(&job.tenant_id),
        account_id: Some(&job.account_id),
        actor: "rampart",
        action,
        outcome,
        meta: &EXPORT_META,
        detail,
        key_id: job.key_id.as_deref(),
    }
}

async fn delete_blob(state: &AppState, job: &Job) {
    if let Some(blob) = &job.blob {
        if let Err(e) = state.vault.store.delete(job.tenant_id.as_str(), blob).await {
            tracing::warn!(error = %e, export = %job.id, "export blob not deleted");
        }
    }
}

/// Ready exports past their 24 hours: blob deleted, marked expired.
async fn expire_due(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let rows = sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM data_exports WHERE state = 'ready' AND expires_at <= $1 ORDER BY created_at"
    ))
    .bind(now)
    .fetch_all(&state.pool)
    .await?;
    for r in &rows {
        let job = job_of(r)?;
        delete_blob(state, &job).await;
        let done =
            sqlx::query("UPDATE data_exports SET state = 'expired', blob = NULL WHERE id = $1 AND state = 'ready'")
                .bind(&job.id)
                .execute(&state.pool)
                .await?;
        if done.rows_affected() == 1 {
            record(state, &job, "data_export.expire", Outcome::Success, &format!("export {} expired", job.id)).await?;
        }
    }
    Ok(())
}

/// Running exports without a live worker (this process's own, left by an aborted pass, or any whose heartbeat
/// stopped): partial blob deleted, progress reset, queued again — or failed after `MAX_ATTEMPTS`. A clean stop
/// calls it too, so the next server builds what this one was building at once.
pub async fn restart_stale(state: &AppState) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let rows = sqlx::query(&format!(
        "SELECT {JOB_COLUMNS}, worker FROM data_exports WHERE state = 'running' ORDER BY created_at"
    ))
    .fetch_all(&state.pool)
    .await?;
    let mut gone: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for r in &rows {
        let worker: Option<String> = r.try_get("worker")?;
        let beat: Option<i64> = r.try_get("heartbeat_at")?;
        let stale = match (worker, beat) {
            (None, _) | (_, None) => true,
            (Some(w), Some(beat)) => {
                let dead = match gone.get(&w) {
                    Some(d) => *d,
                    None => {
                        // Another instance's worker that died (killed, crashed) is known at once on PostgreSQL.
                        let d = w != *state.exports.worker
                            && crate::backend::platform::job_lock::instance_is_gone(&state.pool, &w).await?;
                        gone.insert(w.clone(), d);
                        d
                    }
                };
                w == *state.exports.worker || beat < now - STALE_MS || dead
            }
        };
        if !stale {
            continue;
        }
        let job = job_of(r)?;
        let attempts: i64 = r.try_get("attempts")?;
        let heartbeat: Option<i64> = r.try_get("heartbeat_at")?;
        delete_blob(state, &job).await;
        if attempts >= MAX_ATTEMPTS {
            let err = AppError::Unavailable;
            failed(state, &job, &err).await?;
            continue;
        }
        // Only if no other worker took it meanwhile (its heartbeat would have moved).
        let same_beat = if heartbeat.is_some() { "heartbeat_at = $2" } else { "heartbeat_at IS NULL AND $2 = 0" };
        let reset = sqlx::query(&format!(
            "UPDATE data_exports SET state = 'queued', worker = NULL, blob = NULL, key_version = NULL, \
             done_entries = 0, total_entries = 0, done_bytes = 0, total_bytes = 0, heartbeat_at = NULL \
             WHERE id = $1 AND state = 'running' AND {same_beat}"
        ))
        .bind(&job.id)
        .bind(heartbeat.unwrap_or(0))
        .execute(&state.pool)
        .await?;
        if reset.rows_affected() == 1 {
            tracing::info!(export = %job.id, attempts, "data export restarted after its worker stopped");
        }
    }
    Ok(())
}

/// Takes the oldest queued export, if another worker does not take it first.
async fn claim_next(state: &AppState) -> Result<Option<Job>, AppError> {
    loop {
        let next = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM data_exports WHERE state = 'queued' ORDER BY created_at, id LIMIT 1"
        ))
        .fetch_optional(&state.pool)
        .await?;
        let Some(r) = next else { return Ok(None) };
        let job = job_of(&r)?;
        let now = state.clock.now_ms();
        let claimed = sqlx::query(
            "UPDATE data_exports SET state = 'running', worker = $1, attempts = attempts + 1, started_at = $2, \
             heartbeat_at = $2, error = NULL WHERE id = $3 AND state = 'queued'",
        )
        .bind(state.exports.worker.as_ref())
        .bind(now)
        .bind(&job.id)
        .execute(&state.pool)
        .await?;
        if claimed.rows_affected() == 1 {
            return Ok(Some(job));
        }
    }
}

/// The archive's bytes on their way to the blob: encrypted as they come, drained in chunk-sized writes.
struct Sealed {
    enc: Encryptor,
    out: Vec<u8>,
}

impl Sink for Sealed {
    fn put(&mut self, bytes: &[u8]) {
        self.enc.push(bytes, &mut self.out);
    }
}

/// Progress as the row shows it; also the heartbeat.
struct Progress {
    id: String,
    entries: i64,
    bytes: i64,
    written: std::time::Instant,
}

impl Progress {
    async fn save(&mut self, state: &AppState, force: bool) -> Result<(), AppError> {
        if !force && self.written.elapsed() < PROGRESS_EVERY {
            return Ok(());
        }
        sqlx::query(
            "UPDATE data_exports SET done_entries = $1, done_bytes = $2, heartbeat_at = $3 WHERE id = $4 \
             AND state = 'running'",
        )
        .bind(self.entries)
        .bind(self.bytes)
        .bind(state.clock.now_ms())
        .bind(&self.id)
        .execute(&state.pool)
        .await?;
        self.written = std::time::Instant::now();
        Ok(())
    }
}

#[track_caller]
fn store_error(e: std::io::Error) -> AppError {
    crate::backend::platform::failure::internal("data export storage", e)
}

#[track_caller]
fn zip_error(e: super::zip::ZipError) -> AppError {
    crate::backend::platform::failure::internal("data export archive", e)
}

/// Builds the archive into a new blob; returns its (plaintext) size.
async fn build(state: &AppState, job: &Job) -> Result<u64, AppError> {
    let tenant = job.tenant_id.as_str();
    let now = state.clock.now_ms();
    let key = {
        let mut conn = state.pool.acquire().await?;
        keys::active(&mut conn, &state.keys, tenant, now).await?
    };
    let blob = uuid::Uuid::new_v4().to_string();
    // Named before the first byte is written, so whoever restarts this export can delete a partial blob.
    sqlx::query("UPDATE data_exports SET blob = $1, key_version = $2 WHERE id = $3")
        .bind(&blob)
        .bind(key.version)
        .bind(&job.id)
        .execute(&state.pool)
        .await?;
    let mut writer = state.vault.store.create(tenant, &blob).await.map_err(store_error)?;
    let sealed =
        Sealed { enc: Encryptor::new(&key.key, blob_aad(tenant, &blob)), out: Vec::with_capacity(3 * CHUNK_SIZE) };
    let mut zip = ZipWriter::new(sealed, now);
    match write_archive(state, job, &mut zip, &mut writer).await {
        Ok(()) => {}
        Err(e) => {
            writer.abort().await;
            return Err(e);
        }
    }
    let (sealed, size) = match zip.finish().map_err(zip_error) {
        Ok(done) => done,
        Err(e) => {
            writer.abort().await;
            return Err(e);
        }
    };
    let Sealed { enc, mut out } = sealed;
    enc.finish(&mut out);
    if let Err(e) = writer.write(out).await {
        writer.abort().await;
        return Err(store_error(e));
    }
    writer.commit().await.map_err(store_error)?;
    Ok(size)
}

/// Writes the whole archive through `zip`, draining into `writer`.
async fn write_archive(
    state: &AppState,
    job: &Job,
    zip: &mut ZipWriter<Sealed>,
    writer: &mut Box<dyn BlobWriter>,
) -> Result<(), AppError> {
    let tenant = job.tenant_id.as_str();
    let now = state.clock.now_ms();
    let documents = records::documents(state, tenant).await?;
    let items = records::vault_items(state, tenant).await?;
    let total_entries = (documents.len() + 1 + items.len() + 1 + 3) as i64;
    let total_bytes: i64 = items.iter().map(|i| i.size).sum();
    sqlx::query("UPDATE data_exports SET total_entries = $1, total_bytes = $2, heartbeat_at = $3 WHERE id = $4")
        .bind(total_entries)
        .bind(total_bytes)
        .bind(now)
        .bind(&job.id)
        .execute(&state.pool)
        .await?;
    let mut progress = Progress { id: job.id.clone(), entries: 0, bytes: 0, written: std::time::Instant::now() };
    let mut manifest: Vec<Written> = Vec::with_capacity(total_entries as usize);

    for (name, bytes) in &documents {
        manifest.push(zip.entry(name, bytes).map_err(zip_error)?);
        drain(zip, writer).await?;
        progress.entries += 1;
    }
    progress.save(state, true).await?;

    // The access history, streamed from a database cursor.
    zip.start_entry("access-history.jsonl").map_err(zip_error)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let pool = state.pool.clone();
    let tenant_id = job.tenant_id.clone();
    let reader = tokio::spawn(async move { stream_all(&pool, &tenant_id, Format::JsonLines, now, tx).await });
    while let Some(chunk) = rx.recv().await {
        zip.write(&chunk).map_err(zip_error)?;
        drain(zip, writer).await?;
        progress.save(state, false).await?;
    }
    let events =
        reader.await.map_err(|e| crate::backend::platform::failure::internal("access-history reader", e))??;
    manifest.push(zip.finish_entry().map_err(zip_error)?);
    progress.entries += 1;
    tracing::debug!(events, export = %job.id, "access history exported");

    // Every vault version, decrypted as it is read.
    let mut data_keys: HashMap<i64, [u8; 32]> = HashMap::new();
    for item in &items {
        let written = copy_vault_item(state, tenant, item, zip, writer, &mut data_keys, &mut progress).await?;
        manifest.push(written);
        progress.entries += 1;
        progress.save(state, false).await?;
    }
    manifest.push(
        zip.entry("vault-index.json", &records::vault_index(&items, state.vault.restore_days)).map_err(zip_error)?,
    );
    progress.entries += 1;

    // The manifest, its signature and the key that checks it.
    let tenant_name = records::tenant_name(state, tenant).await?;
    let who = (job.id.as_str(), job.tenant_id.as_str(), job.requested_by.as_str());
    let manifest_bytes = super::records::manifest_json(who, &tenant_name, now, &manifest);
    let signature = {
        use ed25519_dalek::Signer as _;
        state.keys.export_signing_key().sign(&manifest_bytes)
    };
    let sig = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
    zip.entry("manifest.json", &manifest_bytes).map_err(zip_error)?;
    zip.entry("manifest.sig", sig.as_bytes()).map_err(zip_error)?;
    zip.entry("signing-key.pub", state.keys.export_public_key_pem().as_bytes()).map_err(zip_error)?;
    drain(zip, writer).await?;
    progress.entries += 3;
    progress.save(state, true).await
}

/// Copies one vault version into the archive under the SHA-256 recorded at upload: AES-GCM proves every chunk
/// read is what was encrypted then, and the size is checked.
async fn copy_vault_item(
    state: &AppState,
    tenant: &str,
    item: &VaultItem,
    zip: &mut ZipWriter<Sealed>,
    writer: &mut Box<dyn BlobWriter>,
    data_keys: &mut HashMap<i64, [u8; 32]>,
    progress: &mut Progress,
) -> Result<Written, AppError> {
    let key = match data_keys.get(&item.key_version) {
        Some(k) => *k,
        None => {
            let mut conn = state.pool.acquire().await?;
            let k = keys::by_version(&mut conn, &state.keys, tenant, item.key_version).await?.key;
            data_keys.insert(item.key_version, k);
            k
        }
    };
    let mut body = read::plain_stream(state, tenant, &item.blob, &key).await?;
    zip.start_entry_with_digest(&item.entry_name(), &item.sha256).map_err(zip_error)?;
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(store_error)?;
        zip.write(&piece).map_err(zip_error)?;
        drain(zip, writer).await?;
        progress.bytes += piece.len() as i64;
        progress.save(state, false).await?;
    }
    let written = zip.finish_entry().map_err(zip_error)?;
    if written.size != item.size as u64 {
        let what = format!("vault version {} of {} does not match its record", item.number, item.path);
        return Err(crate::backend::platform::failure::internal("data export", what));
    }
    Ok(written)
}

/// Writes out what the encryptor has sealed so far, once it is at least a chunk.
async fn drain(zip: &mut ZipWriter<Sealed>, writer: &mut Box<dyn BlobWriter>) -> Result<(), AppError> {
    let sealed = zip.sink_mut();
    if sealed.out.len() >= CHUNK_SIZE {
        let full = std::mem::replace(&mut sealed.out, Vec::with_capacity(3 * CHUNK_SIZE));
        writer.write(full).await.map_err(store_error)?;
    }
    Ok(())
}

/// Marks a built export ready (24 hours to download), records it and emails the requester. The state and its
/// event are one transaction: a reader that sees the export ready sees its event, and a crash between the two
/// loses neither. An export no longer running (taken over after a stale heartbeat) is not announced again.
async fn ready(state: &AppState, job: &Job, size: u64) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let expires = now + DOWNLOAD_TTL_MS;
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let marked = sqlx::query(
        "UPDATE data_exports SET state = 'ready', size = $1, finished_at = $2, expires_at = $3, heartbeat_at = $2, \
         done_entries = total_entries, done_bytes = total_bytes WHERE id = $4 AND state = 'running'",
    )
    .bind(i64::try_from(size).unwrap_or(i64::MAX))
    .bind(now)
    .bind(expires)
    .bind(&job.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if marked == 0 {
        return Ok(());
    }
    let detail =
        format!("export {} ready ({size} bytes), downloadable until {}", job.id, crate::model::format_utc(expires));
    audit::record(&mut tx, &state.keys, now, &event(job, "data_export.ready", Outcome::Success, &detail)).await?;
    tx.commit().await?;
    let to = sqlx::query("SELECT a.email, t.name FROM accounts a, tenants t WHERE a.id = $1 AND t.id = $2")
        .bind(job.account_id.as_str())
        .bind(job.tenant_id.as_str())
        .fetch_optional(&state.pool)
        .await?;
    if let Some(r) = to {
        let (email, tenant): (String, String) = (r.try_get("email")?, r.try_get("name")?);
        let link = format!("{}/data-export", state.public_url);
        let until = crate::model::format_utc(expires);
        let notice = Notice::DataExportReady { link: &link, until: &until, by_key: job.key_id.is_some() };
        notify::send(state, &notice, &email, &tenant, &RequestMeta::default()).await;
    }
    Ok(())
}

/// Marks an export failed (its partial blob deleted) and records why, by reference only.
async fn failed(state: &AppState, job: &Job, err: &AppError) -> Result<(), AppError> {
    let blob: Option<String> = sqlx::query("SELECT blob FROM data_exports WHERE id = $1")
        .bind(&job.id)
        .fetch_optional(&state.pool)
        .await?
        .map(|r| r.try_get("blob"))
        .transpose()?
        .flatten();
    delete_blob(state, &Job { blob, ..job.clone() }).await;
    let message = err.to_string();
    sqlx::query("UPDATE data_exports SET state = 'failed', blob = NULL, error = $1, finished_at = $2 WHERE id = $3")
        .bind(&message)
        .bind(state.clock.now_ms())
        .bind(&job.id)
        .execute(&state.pool)
        .await?;
    record(state, job, "data_export.failed", Outcome::Failure, &format!("export {}: {message}", job.id)).await
}
