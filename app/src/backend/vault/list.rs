//! Reading the vault's catalogue: a folder's subfolders and files, search by name, size and dates, one file
//! with its versions and links. Everything is filtered by the context's tenant.

use super::paths;
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::AppState;
use crate::model::{AppError, VaultFileDetailView, VaultFileView, VaultListView, VaultVersionView};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

/// The most files a listing shows.
pub const PAGE: i64 = 500;

const FILE_COLUMNS: &str = "o.id, o.path, o.folder, o.name, o.size, o.versions, o.created_at, o.updated_at, \
     o.deleted_at, v.content_type, v.sha256";

/// A listing's filters (a GET form and the REST query). Empty fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultQuery {
    /// The folder to list (with a search: to search under).
    #[serde(default)]
    pub folder: Option<String>,
    /// Part of a file name (case-insensitive).
    #[serde(default)]
    pub q: Option<String>,
    /// Smallest and largest size, in bytes.
    #[serde(default)]
    pub min_size: Option<String>,
    #[serde(default)]
    pub max_size: Option<String>,
    /// Changed on or after / before the end of (UTC dates, YYYY-MM-DD).
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    /// Show deleted files (the bin) instead.
    #[serde(default)]
    pub deleted: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn file_view(r: &AnyRow, restore_days: i64) -> Result<VaultFileView, sqlx::Error> {
    let deleted_at: Option<i64> = r.try_get("deleted_at")?;
    Ok(VaultFileView {
        id: r.try_get("id")?,
        path: r.try_get("path")?,
        folder: r.try_get("folder")?,
        name: r.try_get("name")?,
        size: r.try_get("size")?,
        versions: r.try_get("versions")?,
        content_type: r.try_get("content_type")?,
        sha256: r.try_get("sha256")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        deleted_at,
        purge_at: deleted_at.map(|d| d + restore_days * crate::backend::platform::clock::DAY_MS),
    })
}

/// Lists a folder, or searches when a name, size or date filter is given.
pub async fn list(
    state: &AppState,
    ctx: &TenantCtx,
    _read: &Granted<perm::VaultRead>,
    query: &VaultQuery,
) -> Result<VaultListView, AppError> {
    let folder = paths::folder_path(given(&query.folder).unwrap_or(""))?;
    let deleted = given(&query.deleted).is_some();
    let searching =
        [&query.q, &query.min_size, &query.max_size, &query.from, &query.to].iter().any(|v| given(v).is_some());
    let size = |field: &str, v: &Option<String>| -> Result<Option<i64>, AppError> {
        given(v)
            .map(|s| {
                s.parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| AppError::validation(field, "Give a size in bytes."))
            })
            .transpose()
    };
    let min_size = size("min_size", &query.min_size)?;
    let max_size = size("max_size", &query.max_size)?;
    let date = |field: &str, v: &Option<String>, end: bool| -> Result<Option<i64>, AppError> {
        given(v)
            .map(|s| {
                crate::model::parse_date_utc(s)
                    .map(|d| if end { d + crate::backend::platform::clock::DAY_MS } else { d })
                    .ok_or_else(|| AppError::validation(field, "Give a date as YYYY-MM-DD."))
            })
            .transpose()
    };
    let from = date("from", &query.from, false)?;
    let to = date("to", &query.to, true)?;
    let pattern = given(&query.q).map(|q| format!("%{}%", escape_like(&q.to_lowercase())));

    let mut sql = format!(
        "SELECT {FILE_COLUMNS} FROM vault_objects o JOIN vault_versions v ON v.id = o.current_version_id \
         WHERE o.tenant_id = $1 AND o.deleted_at IS {} NULL",
        if deleted { "NOT" } else { "" }
    );
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if searching || deleted {
        sql += &format!(" AND substr(o.folder, 1, {}) = {}", folder.chars().count(), next());
    } else {
        sql += &format!(" AND o.folder = {}", next());
    }
    if pattern.is_some() {
        sql += &format!(" AND o.name_key LIKE {} ESCAPE '\\'", next());
    }
    for (v, op) in [(min_size, "o.size >="), (max_size, "o.size <="), (from, "o.updated_at >="), (to, "o.updated_at <")]
    {
        if v.is_some() {
            sql += &format!(" AND {op} {}", next());
        }
    }
    sql += &format!(" ORDER BY o.folder, o.name_key, o.id LIMIT {}", PAGE + 1);
    let mut q = sqlx::query(&sql).bind(ctx.tenant_id().as_str()).bind(&folder);
    if let Some(p) = &pattern {
        q = q.bind(p);
    }
    for v in [min_size, max_size, from, to].into_iter().flatten() {
        q = q.bind(v);
    }
    let mut conn = state.pool.acquire().await?;
    let rows = q.fetch_all(&mut *conn).await?;
    let truncated = rows.len() as i64 > PAGE;
    let files =
        rows.iter().take(PAGE as usize).map(|r| file_view(r, state.vault.restore_days)).collect::<Result<_, _>>()?;
    let folders = if searching || deleted { Vec::new() } else { subfolders(&mut conn, ctx, &folder).await? };
    Ok(VaultListView {
        folder,
        folders,
        files,
        truncated,
        can_write: ctx.can(crate::model::Permission::VaultWrite),
        can_admin: ctx.is_admin() && ctx.api_key().is_none(),
        max_file_bytes: i64::try_from(state.vault.max_file_bytes).unwrap_or(i64::MAX),
        restore_days: state.vault.restore_days,
    })
}

/// `\`, `%` and `_` taken literally in a LIKE pattern.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

async fn subfolders(conn: &mut sqlx::AnyConnection, ctx: &TenantCtx, folder: &str) -> Result<Vec<String>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT folder FROM vault_objects WHERE tenant_id = $1 AND deleted_at IS NULL \
         AND substr(folder, 1, {}) = $2 AND folder <> $2",
        folder.chars().count()
    ))
    .bind(ctx.tenant_id().as_str())
    .bind(folder)
    .fetch_all(conn)
    .await?;
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        let f: String = r.try_get("folder")?;
        let rest: String = f.chars().skip(folder.chars().count()).collect();
        if let Some((next, _)) = rest.split_once('/') {
            let sub = format!("{folder}{next}/");
            if !out.contains(&sub) {
                out.push(sub);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One file (deleted ones too) of the context's tenant.
pub async fn file_by_id(state: &AppState, ctx: &TenantCtx, id: &str) -> Result<VaultFileView, AppError> {
    let mut conn = state.pool.acquire().await?;
    let row = sqlx::query(&format!(
        "SELECT {FILE_COLUMNS} FROM vault_objects o JOIN vault_versions v ON v.id = o.current_version_id \
         WHERE o.tenant_id = $1 AND o.id = $2"
    ))
    .bind(ctx.tenant_id().as_str())
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(file_view(&row, state.vault.restore_days)?)
}

/// A file's versions, newest first.
pub async fn versions(state: &AppState, ctx: &TenantCtx, object_id: &str) -> Result<Vec<VaultVersionView>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rows = sqlx::query(
        "SELECT v.id, v.number, v.size, v.sha256, v.content_type, v.created_at, v.created_by, \
         CASE WHEN o.current_version_id = v.id THEN 1 ELSE 0 END AS current \
         FROM vault_versions v JOIN vault_objects o ON o.id = v.object_id AND o.tenant_id = v.tenant_id \
         WHERE v.tenant_id = $1 AND v.object_id = $2 ORDER BY v.number DESC",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(object_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(VaultVersionView {
                id: r.try_get("id")?,
                number: r.try_get("number")?,
                size: r.try_get("size")?,
                sha256: r.try_get("sha256")?,
                content_type: r.try_get("content_type")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                current: r.try_get::<i64, _>("current")? == 1,
            })
        })
        .collect()
}

/// A file with its versions and links.
pub async fn detail(
    state: &AppState,
    ctx: &TenantCtx,
    _read: &Granted<perm::VaultRead>,
    object_id: &str,
) -> Result<VaultFileDetailView, AppError> {
    let file = file_by_id(state, ctx, object_id).await?;
    let versions = versions(state, ctx, object_id).await?;
    let links = super::links::list(state, ctx, object_id).await?;
    Ok(VaultFileDetailView {
        file,
        versions,
        links,
        can_write: ctx.can(crate::model::Permission::VaultWrite),
        can_share: ctx.is_admin() || ctx.api_key().is_some(),
    })
}
