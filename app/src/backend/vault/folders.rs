//! Folders and moves, as a file system sees them (the SFTP gateway): a folder exists while a file is under it
//! or while it was made on purpose and is empty (`vault_folders`); renaming moves a file, or a folder with
//! everything under it, in one transaction with its event. Nothing is ever overwritten by a move: a name that is
//! taken (by a live file or one in the bin) is a conflict.

use super::paths::{self, VaultPath};
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, VaultFileView};
use sqlx::{AnyConnection, Row as _};

/// The most entries one folder lists.
pub const MAX_ENTRIES: i64 = 10_000;

/// What a path names.
#[derive(Debug, Clone)]
pub enum Node {
    Folder,
    File(Box<VaultFileView>),
}

fn prefix_sql(column: &str, folder: &str) -> String {
    format!("substr({column}, 1, {}) = $2", folder.chars().count())
}

/// Whether `folder` (`""` or ending in `/`) exists: the root, a folder with a live file under it, or one made
/// on purpose (or one under it).
pub async fn exists(conn: &mut AnyConnection, tenant: &str, folder: &str) -> Result<bool, AppError> {
    if folder.is_empty() {
        return Ok(true);
    }
    let n: i64 = sqlx::query_scalar(&format!(
        "SELECT (SELECT COUNT(*) FROM vault_objects WHERE tenant_id = $1 AND deleted_at IS NULL AND {}) + \
         (SELECT COUNT(*) FROM vault_folders WHERE tenant_id = $1 AND {})",
        prefix_sql("folder", folder),
        prefix_sql("folder", folder)
    ))
    .bind(tenant)
    .bind(folder)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// What `path` names in the tenant's vault (live files only), or `NotFound`.
pub async fn node(state: &AppState, ctx: &TenantCtx, path: &str) -> Result<Node, AppError> {
    let tenant = ctx.tenant_id().as_str();
    let folder = paths::folder_path(path)?;
    let mut conn = state.pool.acquire().await?;
    if !folder.is_empty() {
        let file = paths::file_path(path)?;
        let id: Option<String> = sqlx::query_scalar(
            "SELECT id FROM vault_objects WHERE tenant_id = $1 AND path = $2 AND deleted_at IS NULL",
        )
        .bind(tenant)
        .bind(&file.path)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = id {
            drop(conn);
            return Ok(Node::File(Box::new(super::list::file_by_id(state, ctx, &id).await?)));
        }
    }
    if exists(&mut conn, tenant, &folder).await? {
        Ok(Node::Folder)
    } else {
        Err(AppError::NotFound)
    }
}

/// A folder's subfolder names and live files (at most `MAX_ENTRIES` of each), by name.
pub async fn children(
    state: &AppState,
    ctx: &TenantCtx,
    _read: &Granted<perm::VaultRead>,
    folder: &str,
) -> Result<(Vec<String>, Vec<VaultFileView>), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let folder = paths::folder_path(folder)?;
    let mut conn = state.pool.acquire().await?;
    if !exists(&mut conn, tenant, &folder).await? {
        return Err(AppError::NotFound);
    }
    let rows = sqlx::query(&format!(
        "SELECT folder FROM vault_objects WHERE tenant_id = $1 AND deleted_at IS NULL AND {0} AND folder <> $2 \
         UNION SELECT folder FROM vault_folders WHERE tenant_id = $1 AND {0} AND folder <> $2 LIMIT {MAX_ENTRIES}",
        prefix_sql("folder", &folder)
    ))
    .bind(tenant)
    .bind(&folder)
    .fetch_all(&mut *conn)
    .await?;
    let mut names: Vec<String> = Vec::new();
    for r in rows {
        let f: String = r.try_get("folder")?;
        let rest: String = f.chars().skip(folder.chars().count()).collect();
        if let Some((next, _)) = rest.split_once('/') {
            if !names.iter().any(|n| n == next) {
                names.push(next.to_owned());
            }
        }
    }
    names.sort();
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM vault_objects WHERE tenant_id = $1 AND folder = $2 AND deleted_at IS NULL \
         ORDER BY name_key, id LIMIT {MAX_ENTRIES}"
    ))
    .bind(tenant)
    .bind(&folder)
    .fetch_all(&mut *conn)
    .await?;
    drop(conn);
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        files.push(super::list::file_by_id(state, ctx, &id).await?);
    }
    Ok((names, files))
}

/// Makes an empty folder (its parent must exist; a taken name is a conflict): `vault.folder_created`.
pub async fn make(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    path: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let target = paths::file_path(path)?;
    let folder = format!("{}/", target.path);
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if !exists(&mut tx, tenant, &target.folder).await? {
        return Err(AppError::NotFound);
    }
    if taken(&mut tx, tenant, &target).await? {
        return Err(AppError::Conflict { msg: format!("{} already exists.", target.path) });
    }
    sqlx::query("INSERT INTO vault_folders (tenant_id, folder, created_at, created_by) VALUES ($1, $2, $3, $4)")
        .bind(tenant)
        .bind(&folder)
        .bind(now)
        .bind(ctx.actor())
        .execute(&mut *tx)
        .await?;
    let event = NewEvent::by(ctx, meta, "vault.folder_created", Outcome::Success, &folder);
    audit::record(&mut tx, &state.keys, now, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes an empty folder (nothing live under it; a folder with files is a conflict): `vault.folder_removed`.
pub async fn remove(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    path: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let folder = paths::folder_path(path)?;
    if folder.is_empty() {
        return Err(AppError::validation("path", "The root folder stays."));
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let files: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM vault_objects WHERE tenant_id = $1 AND deleted_at IS NULL AND {}",
        prefix_sql("folder", &folder)
    ))
    .bind(tenant)
    .bind(&folder)
    .fetch_one(&mut *tx)
    .await?;
    let made = sqlx::query(&format!(
        "SELECT folder FROM vault_folders WHERE tenant_id = $1 AND {}",
        prefix_sql("folder", &folder)
    ))
    .bind(tenant)
    .bind(&folder)
    .fetch_all(&mut *tx)
    .await?;
    let made: Vec<String> = made.iter().map(|r| r.try_get("folder")).collect::<Result<_, _>>()?;
    if !made.contains(&folder) && files == 0 {
        return Err(AppError::NotFound);
    }
    if files > 0 || made.len() > 1 || !made.contains(&folder) {
        return Err(AppError::Conflict { msg: format!("{folder} is not empty.") });
    }
    sqlx::query("DELETE FROM vault_folders WHERE tenant_id = $1 AND folder = $2")
        .bind(tenant)
        .bind(&folder)
        .execute(&mut *tx)
        .await?;
    let event = NewEvent::by(ctx, meta, "vault.folder_removed", Outcome::Success, &folder);
    audit::record(&mut tx, &state.keys, now, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a name is taken in its folder: a file (live or in the bin) or a folder.
async fn taken(conn: &mut AnyConnection, tenant: &str, target: &VaultPath) -> Result<bool, AppError> {
    let files: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vault_objects WHERE tenant_id = $1 AND path = $2")
        .bind(tenant)
        .bind(&target.path)
        .fetch_one(&mut *conn)
        .await?;
    Ok(files > 0 || exists(conn, tenant, &format!("{}/", target.path)).await?)
}

/// Renames a file, or a folder with everything under it (files in the bin too, so a restore finds its place):
/// `vault.rename`. The new name must be free and its parent folder must exist.
pub async fn rename(
    state: &AppState,
    ctx: &TenantCtx,
    _write: &Granted<perm::VaultWrite>,
    meta: &RequestMeta,
    from: &str,
    to: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let (src, dst) = (paths::file_path(from)?, paths::file_path(to)?);
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if !exists(&mut tx, tenant, &dst.folder).await? {
        return Err(AppError::NotFound);
    }
    if taken(&mut tx, tenant, &dst).await? {
        return Err(AppError::Conflict { msg: format!("{} already exists.", dst.path) });
    }
    let moved_file = sqlx::query(
        "UPDATE vault_objects SET path = $1, folder = $2, name = $3, name_key = $4, updated_at = $5 \
         WHERE tenant_id = $6 AND path = $7 AND deleted_at IS NULL",
    )
    .bind(&dst.path)
    .bind(&dst.folder)
    .bind(&dst.name)
    .bind(dst.name.to_lowercase())
    .bind(now)
    .bind(tenant)
    .bind(&src.path)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let detail = if moved_file == 1 {
        format!("{} → {}", src.path, dst.path)
    } else {
        let (old, new) = (format!("{}/", src.path), format!("{}/", dst.path));
        if new.starts_with(&old) {
            return Err(AppError::validation("path", "A folder cannot move into itself."));
        }
        let n = move_folder(&mut tx, tenant, &old, &new).await?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        format!("{old} → {new} ({n} files and folders)")
    };
    let event = NewEvent::by(ctx, meta, "vault.rename", Outcome::Success, &detail);
    audit::record(&mut tx, &state.keys, now, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves every file and made folder under `old` to `new`; returns how many rows moved.
async fn move_folder(conn: &mut AnyConnection, tenant: &str, old: &str, new: &str) -> Result<u64, AppError> {
    let len = old.chars().count();
    let mut n = 0;
    for (table, column) in [("vault_objects", "path"), ("vault_folders", "folder")] {
        let set = if table == "vault_objects" {
            format!("path = $3 || substr(path, {}), folder = $3 || substr(folder, {})", len + 1, len + 1)
        } else {
            format!("folder = $3 || substr(folder, {})", len + 1)
        };
        n += sqlx::query(&format!("UPDATE {table} SET {set} WHERE tenant_id = $1 AND {}", prefix_sql(column, old)))
            .bind(tenant)
            .bind(old)
            .bind(new)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(n)
}
