//! Tenant data key rotation. An admin (stepped up) starts it: a new key version becomes active at once, so new
//! uploads use it, and the previous one is `retiring`. A background job then re-encrypts every blob still under
//! an older version (decrypt, encrypt under the new key into a new blob, repoint every version row that shared
//! the old blob, delete the old blob), counting progress; once none is left, the retired key is destroyed. The
//! job is restartable: progress lives in the database and each blob is switched in its own transaction.

use super::files::store_stream;
use super::keys;
use super::read::plain_stream;
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::crypto::random_bytes;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, VaultKeyView, VaultRotationView};
use sqlx::Row as _;

/// The tenant's key and its latest rotation.
pub async fn status(state: &AppState, ctx: &TenantCtx, _admin: &AdminHandle) -> Result<VaultKeyView, AppError> {
    let tenant = ctx.tenant_id().as_str();
    let key = sqlx::query("SELECT version, created_at FROM vault_data_keys WHERE tenant_id = $1 AND state = 'active'")
        .bind(tenant)
        .fetch_optional(&state.pool)
        .await?;
    let rotation = sqlx::query(
        "SELECT from_version, to_version, total, done, started_at, finished_at, error FROM vault_rotations \
         WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_optional(&state.pool)
    .await?;
    Ok(VaultKeyView {
        active_version: key.as_ref().map(|k| k.try_get("version")).transpose()?,
        created_at: key.as_ref().map(|k| k.try_get("created_at")).transpose()?,
        rotation: rotation
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(VaultRotationView {
                    from_version: r.try_get("from_version")?,
                    to_version: r.try_get("to_version")?,
                    total: r.try_get("total")?,
                    done: r.try_get("done")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    error: r.try_get("error")?,
                })
            })
            .transpose()?,
    })
}

/// Starts a rotation of the tenant's data key (refused while one runs).
pub async fn start(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _stepped_up: &SteppedUp,
    meta: &RequestMeta,
) -> Result<VaultRotationView, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    {
        let mut conn = state.pool.acquire().await?;
        keys::active(&mut conn, &state.keys, tenant, now).await?;
    }
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let running = sqlx::query("SELECT id FROM vault_rotations WHERE tenant_id = $1 AND finished_at IS NULL")
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
    if running.is_some() {
        return Err(AppError::Conflict { msg: "A key rotation is already running.".to_owned() });
    }
    let from: i64 =
        sqlx::query("SELECT MAX(version) AS v FROM vault_data_keys WHERE tenant_id = $1 AND state = 'active'")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await?
            .try_get::<Option<i64>, _>("v")?
            .ok_or_else(|| AppError::Conflict { msg: "The vault has no active key.".to_owned() })?;
    let to = from + 1;
    let key: [u8; 32] = random_bytes();
    let (wrap_id, wrapped) = state.keys.wrap_data_key(tenant, to, &key)?;
    sqlx::query("UPDATE vault_data_keys SET state = 'retiring' WHERE tenant_id = $1 AND state = 'active'")
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO vault_data_keys (tenant_id, version, wrapped, wrap_key_id, state, created_at) \
         VALUES ($1, $2, $3, $4, 'active', $5)",
    )
    .bind(tenant)
    .bind(to)
    .bind(&wrapped)
    .bind(&wrap_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let total: i64 =
        sqlx::query("SELECT COUNT(DISTINCT blob) AS n FROM vault_versions WHERE tenant_id = $1 AND key_version < $2")
            .bind(tenant)
            .bind(to)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
    sqlx::query(
        "INSERT INTO vault_rotations (id, tenant_id, from_version, to_version, total, done, started_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(tenant)
    .bind(from)
    .bind(to)
    .bind(total)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let detail = format!("data key version {from} → {to}; {total} files to re-encrypt");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "vault.key_rotate", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(VaultRotationView {
        from_version: from,
        to_version: to,
        total,
        done: 0,
        started_at: now,
        finished_at: None,
        error: None,
    })
}

/// Works on every unfinished rotation until it is done (the background job calls this; so can tests).
/// Returns how many blobs were re-encrypted.
pub async fn run_pending(state: &AppState) -> Result<u64, AppError> {
    let rotations = sqlx::query("SELECT id, tenant_id, to_version FROM vault_rotations WHERE finished_at IS NULL")
        .fetch_all(&state.pool)
        .await?;
    let mut moved = 0;
    for r in rotations {
        let id: String = r.try_get("id")?;
        let tenant: String = r.try_get("tenant_id")?;
        let to: i64 = r.try_get("to_version")?;
        match run_one(state, &id, &tenant, to).await {
            Ok(n) => moved += n,
            Err(e) => {
                sqlx::query("UPDATE vault_rotations SET error = $1 WHERE id = $2")
                    .bind(e.to_string())
                    .bind(&id)
                    .execute(&state.pool)
                    .await?;
                return Err(e);
            }
        }
    }
    Ok(moved)
}

async fn run_one(state: &AppState, id: &str, tenant: &str, to: i64) -> Result<u64, AppError> {
    let mut moved = 0;
    loop {
        let next = sqlx::query(
            "SELECT blob, key_version FROM vault_versions WHERE tenant_id = $1 AND key_version <> $2 LIMIT 1",
        )
        .bind(tenant)
        .bind(to)
        .fetch_optional(&state.pool)
        .await?;
        let Some(next) = next else {
            // Ready data exports are encrypted under the tenant key too: carried over like files. One still being
            // written under the old key holds the rotation back until it is done (the job comes back later).
            if let Some(export) = sqlx::query(
                "SELECT id, blob, key_version FROM data_exports WHERE tenant_id = $1 AND state = 'ready' \
                 AND blob IS NOT NULL AND key_version IS NOT NULL AND key_version <> $2 LIMIT 1",
            )
            .bind(tenant)
            .bind(to)
            .fetch_optional(&state.pool)
            .await?
            {
                let (export_id, old_blob): (String, String) = (export.try_get("id")?, export.try_get("blob")?);
                let stored = reencrypt(state, tenant, &old_blob, export.try_get("key_version")?).await?;
                sqlx::query("UPDATE data_exports SET blob = $1, key_version = $2 WHERE id = $3 AND blob = $4")
                    .bind(&stored.blob)
                    .bind(stored.key_version)
                    .bind(&export_id)
                    .bind(&old_blob)
                    .execute(&state.pool)
                    .await?;
                if let Err(e) = state.vault.store.delete(tenant, &old_blob).await {
                    tracing::warn!(error = %e, "a re-encrypted export's old copy could not be deleted");
                }
                continue;
            }
            let building: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM data_exports WHERE tenant_id = $1 AND state IN ('queued', 'running') \
                 AND key_version IS NOT NULL AND key_version <> $2",
            )
            .bind(tenant)
            .bind(to)
            .fetch_one(&state.pool)
            .await?
            .try_get("n")?;
            if building > 0 {
                return Ok(moved);
            }
            let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
            // Delete first, count after: the delete takes the old key rows, so an upload still committing under
            // one of them finishes first (and is counted below, undoing this), or finds its key gone and stores
            // nothing (`files::insert_version`).
            sqlx::query("DELETE FROM vault_data_keys WHERE tenant_id = $1 AND version <> $2")
                .bind(tenant)
                .bind(to)
                .execute(&mut *tx)
                .await?;
            let left: i64 =
                sqlx::query("SELECT COUNT(*) AS n FROM vault_versions WHERE tenant_id = $1 AND key_version <> $2")
                    .bind(tenant)
                    .bind(to)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
            if left > 0 {
                tx.rollback().await?;
                continue;
            }
            let now = state.clock.now_ms();
            sqlx::query("UPDATE vault_rotations SET finished_at = $1, error = NULL WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let tenant_id = TenantId(tenant.to_owned());
            let event = NewEvent {
                tenant_id: Some(&tenant_id),
                account_id: None,
                actor: "rampart",
                action: "vault.key_rotated",
                outcome: Outcome::Success,
                meta: &RequestMeta { ip: String::new(), user_agent: String::new() },
                detail: &format!("every file is under data key version {to}; older versions destroyed"),
                key_id: None,
            };
            audit::record(&mut tx, &state.keys, now, &event).await?;
            tx.commit().await?;
            return Ok(moved);
        };
        let old_blob: String = next.try_get("blob")?;
        let stored = reencrypt(state, tenant, &old_blob, next.try_get("key_version")?).await?;
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        let swap = || {
            sqlx::query("UPDATE vault_versions SET blob = $1, key_version = $2 WHERE tenant_id = $3 AND blob = $4")
                .bind(stored.blob.clone())
                .bind(stored.key_version)
                .bind(tenant.to_owned())
                .bind(old_blob.clone())
        };
        // Twice: a restored version made from the old blob (`manage::restore_version`) holds the old version's
        // row until it commits; the first statement waits for it but, on PostgreSQL, cannot see the version it
        // added. The second statement does, so no version is left pointing at a blob deleted below.
        let moved_rows =
            swap().execute(&mut *tx).await?.rows_affected() + swap().execute(&mut *tx).await?.rows_affected();
        sqlx::query("UPDATE vault_rotations SET done = done + 1 WHERE id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        // No version uses the old blob any more (purged meanwhile, on another instance): the new copy neither.
        let unused = if moved_rows == 0 { vec![&old_blob, &stored.blob] } else { vec![&old_blob] };
        for blob in unused {
            if let Err(e) = state.vault.store.delete(tenant, blob).await {
                tracing::warn!(error = %e, "a re-encrypted blob's unused copy could not be deleted");
            }
        }
        moved += 1;
    }
}

/// Decrypts a blob under its old key version and stores it again under the tenant's active key.
async fn reencrypt(
    state: &AppState,
    tenant: &str,
    old_blob: &str,
    old_version: i64,
) -> Result<super::files::Stored, AppError> {
    let old_key = {
        let mut conn = state.pool.acquire().await?;
        keys::by_version(&mut conn, &state.keys, tenant, old_version).await?
    };
    let plain = plain_stream(state, tenant, old_blob, &old_key.key).await?;
    store_stream(state, tenant, plain, false).await
}
