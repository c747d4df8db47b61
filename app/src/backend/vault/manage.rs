//! Changing the catalogue: soft delete and undelete, restoring an older version (as a new version, so history
//! is never rewritten), and the purge of files deleted longer ago than the restore window.

use super::files::{actor, insert_version, Stored};
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, VaultFileView};
use sqlx::Row as _;

/// Moves a file to the bin: hidden from listings, restorable for the restore window.
pub async fn delete(
    state: &AppState,
    ctx: &TenantCtx,
    write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    object_id: &str,
) -> Result<VaultFileView, AppError> {
    set_binned(state, ctx, write, meta, object_id, true).await
}

/// Takes a file out of the bin.
pub async fn undelete(
    state: &AppState,
    ctx: &TenantCtx,
    write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    object_id: &str,
) -> Result<VaultFileView, AppError> {
    set_binned(state, ctx, write, meta, object_id, false).await
}

/// Puts a file in the bin or takes it out, with its event; `NotFound` when it is not on the other side.
async fn set_binned(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    object_id: &str,
    into_bin: bool,
) -> Result<VaultFileView, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let query = if into_bin {
        sqlx::query(
            "UPDATE vault_objects SET deleted_at = $1, deleted_by = $2 WHERE tenant_id = $3 AND id = $4 \
             AND deleted_at IS NULL RETURNING path",
        )
        .bind(now)
        .bind(actor(ctx))
    } else {
        sqlx::query(
            "UPDATE vault_objects SET deleted_at = NULL, deleted_by = NULL WHERE tenant_id = $1 AND id = $2 \
             AND deleted_at IS NOT NULL RETURNING path",
        )
    };
    let row = query
        .bind(ctx.tenant_id().as_str())
        .bind(object_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let path: String = row.try_get("path")?;
    let (action, detail) = if into_bin {
        ("vault.delete", format!("{path} (restorable for {} days)", state.vault.restore_days))
    } else {
        ("vault.undelete", path)
    };
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, action, Outcome::Success, &detail)).await?;
    tx.commit().await?;
    super::list::file_by_id(state, ctx, object_id).await
}

/// Makes an older version current again, as a new version with the same body (the blob is shared).
pub async fn restore_version(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    object_id: &str,
    version_id: &str,
) -> Result<VaultFileView, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    // The new version shares the old one's blob. On PostgreSQL a key rotation may be moving that blob right now
    // (`rotation::run_one`): the row lock orders the two, so either this reads the blob the rotation moved it
    // to, or the rotation waits for this commit and then moves this version's copy too.
    let lock = if tx.backend_name().eq_ignore_ascii_case("postgresql") { " FOR UPDATE OF v" } else { "" };
    let old = sqlx::query(&format!(
        "SELECT v.number, v.size, v.sha256, v.content_type, v.blob, v.key_version FROM vault_versions v \
         JOIN vault_objects o ON o.id = v.object_id AND o.tenant_id = v.tenant_id \
         WHERE v.tenant_id = $1 AND v.object_id = $2 AND v.id = $3 AND o.deleted_at IS NULL{lock}"
    ))
    .bind(tenant)
    .bind(object_id)
    .bind(version_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let stored = Stored {
        blob: old.try_get("blob")?,
        key_version: old.try_get("key_version")?,
        size: old.try_get("size")?,
        sha256: old.try_get("sha256")?,
    };
    let from: i64 = old.try_get("number")?;
    let new_id = uuid::Uuid::new_v4().to_string();
    let row = sqlx::query(
        "UPDATE vault_objects SET versions = versions + 1, current_version_id = $1, size = $2, updated_at = $3 \
         WHERE tenant_id = $4 AND id = $5 RETURNING path, versions",
    )
    .bind(&new_id)
    .bind(stored.size)
    .bind(now)
    .bind(tenant)
    .bind(object_id)
    .fetch_one(&mut *tx)
    .await?;
    let number: i64 = row.try_get("versions")?;
    let path: String = row.try_get("path")?;
    let content_type: String = old.try_get("content_type")?;
    insert_version(&mut tx, tenant, object_id, &new_id, number, &content_type, &stored, now, &actor(ctx)).await?;
    let detail = format!("{path}: version {from} restored as version {number}");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "vault.restore_version", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    super::list::file_by_id(state, ctx, object_id).await
}

/// Deletes for good the files in the bin for longer than the restore window: rows first (in one transaction
/// per file), then the blobs no version refers to any more. Returns how many files were purged.
pub async fn purge_expired(state: &AppState) -> Result<u64, AppError> {
    let cutoff = state.clock.now_ms() - state.vault.restore_days * crate::backend::platform::clock::DAY_MS;
    let rows = sqlx::query(
        "SELECT id, tenant_id FROM vault_objects WHERE deleted_at IS NOT NULL AND deleted_at <= $1 LIMIT 1000",
    )
    .bind(cutoff)
    .fetch_all(&state.pool)
    .await?;
    let mut purged = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let tenant: String = r.try_get("tenant_id")?;
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        let blobs: Vec<String> =
            sqlx::query("SELECT DISTINCT blob FROM vault_versions WHERE tenant_id = $1 AND object_id = $2")
                .bind(&tenant)
                .bind(&id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|b| b.try_get("blob"))
                .collect::<Result<_, _>>()?;
        let gone = sqlx::query("DELETE FROM vault_objects WHERE tenant_id = $1 AND id = $2 AND deleted_at <= $3")
            .bind(&tenant)
            .bind(&id)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            continue;
        }
        sqlx::query("DELETE FROM vault_versions WHERE tenant_id = $1 AND object_id = $2")
            .bind(&tenant)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM vault_links WHERE tenant_id = $1 AND object_id = $2")
            .bind(&tenant)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let event = audit::NewEvent {
            tenant_id: Some(&crate::backend::platform::ids::TenantId(tenant.clone())),
            account_id: None,
            actor: "rampart",
            action: "vault.purge",
            outcome: Outcome::Success,
            meta: &RequestMeta { ip: String::new(), user_agent: String::new() },
            detail: &format!("file {id} purged after {} days in the bin", state.vault.restore_days),
            key_id: None,
        };
        audit::record(&mut tx, &state.keys, state.clock.now_ms(), &event).await?;
        tx.commit().await?;
        for blob in blobs {
            if let Err(e) = state.vault.store.delete(&tenant, &blob).await {
                tracing::warn!(error = %e, "a purged blob could not be deleted");
            }
        }
        purged += 1;
    }
    Ok(purged)
}
