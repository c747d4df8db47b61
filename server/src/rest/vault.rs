//! `/api/v1/vault/...`: the encrypted vault for machines. Listing, downloads and links need `vault:read`;
//! uploads, deletes and restores `vault:write`. Uploads are the raw request body (`PUT …/files?path=…`),
//! streamed through encryption to storage: any size within the limit in constant memory.

use super::ApiError;
use app::backend::keys::verify::ApiPrincipal;
use app::backend::platform::request::RequestMeta;
use app::backend::vault::list::VaultQuery;
use app::backend::vault::{files, links, list, manage, read};
use app::backend::AppState;
use app::model::{AppError, VaultFileView, VaultVersionView};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// A file (figures of its newest version).
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultFile {
    pub id: String,
    pub path: String,
    pub size: i64,
    pub versions: i64,
    pub content_type: String,
    /// SHA-256 of the newest version's content (hex).
    pub sha256: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set while the file is in the bin.
    pub deleted_at: Option<i64>,
    /// When a deleted file is purged for good.
    pub purge_at: Option<i64>,
}

impl From<VaultFileView> for VaultFile {
    fn from(f: VaultFileView) -> Self {
        Self {
            id: f.id,
            path: f.path,
            size: f.size,
            versions: f.versions,
            content_type: f.content_type,
            sha256: f.sha256,
            created_at: f.created_at,
            updated_at: f.updated_at,
            deleted_at: f.deleted_at,
            purge_at: f.purge_at,
        }
    }
}

/// One version of a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultVersion {
    pub id: String,
    pub number: i64,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub created_at: i64,
    pub created_by: String,
    pub current: bool,
}

impl From<VaultVersionView> for VaultVersion {
    fn from(v: VaultVersionView) -> Self {
        Self {
            id: v.id,
            number: v.number,
            size: v.size,
            sha256: v.sha256,
            content_type: v.content_type,
            created_at: v.created_at,
            created_by: v.created_by,
            current: v.current,
        }
    }
}

/// Files of a folder (and its direct subfolders), or search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultListing {
    pub folder: String,
    pub folders: Vec<String>,
    pub files: Vec<VaultFile>,
    /// More matched than the 500 shown.
    pub truncated: bool,
}

/// A file with its versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultFileDetail {
    pub file: VaultFile,
    pub versions: Vec<VaultVersion>,
}

/// Listing filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Folder to list (`reports/2026/`); with a filter, the folder to search under.
    pub folder: Option<String>,
    /// Part of the file name, case-insensitive.
    pub q: Option<String>,
    #[param(minimum = 0)]
    pub min_size: Option<i64>,
    #[param(minimum = 0)]
    pub max_size: Option<i64>,
    /// Changed on or after this UTC date (YYYY-MM-DD).
    #[param(format = Date)]
    pub from: Option<String>,
    /// Changed on or before this UTC date (YYYY-MM-DD).
    #[param(format = Date)]
    pub to: Option<String>,
    /// `true`: list the bin instead.
    pub deleted: Option<bool>,
}

/// Upload target.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// The file's path, e.g. `reports/2026/q1.csv`: `/`-separated names (no empty, `.` or `..` name, no
    /// control characters or backslashes, no name starting or ending with a space), at most 32 deep.
    /// (Its pattern, set in `openapi::document_json`, spells out these rules.)
    pub path: String,
}

/// Which version to download (default: the current one).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    pub version: Option<String>,
}

/// Whether to look in the bin.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BinParams {
    /// `true`: also a file in the bin (deleted, not yet purged); otherwise a binned file is not found.
    pub deleted: Option<bool>,
}

/// A link to mint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// Lifetime in minutes (1 to 10080; default 60).
    #[schema(minimum = 1, maximum = 10080)]
    #[serde(default, deserialize_with = "super::whole::optional")]
    pub minutes: Option<i64>,
    /// The link works once.
    #[serde(default)]
    pub single_use: bool,
    /// A specific version (default: whatever is current when the link is used).
    pub version_id: Option<String>,
}

/// A minted link: the URL is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct Link {
    pub id: String,
    pub url: String,
    pub expires_at: i64,
    pub single_use: bool,
}

fn meta(p: &ApiPrincipal, m: Option<Extension<RequestMeta>>) -> RequestMeta {
    let _ = p;
    m.map(|Extension(m)| m).unwrap_or(RequestMeta { ip: String::new(), user_agent: String::new() })
}

/// Lists a folder or searches the vault.
#[utoipa::path(get, path = "/vault/files", tag = "vault", params(ListParams),
    security(("api_key" = ["vault:read"])),
    responses((status = 200, body = VaultListing), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn list_files(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<VaultListing>, ApiError> {
    let Query(q) = params.map_err(|e| AppError::validation("query", e.body_text()))?;
    // The console's form sends blanks for unset dates; here a date is a date.
    for (field, v) in [("from", &q.from), ("to", &q.to)] {
        if v.as_deref().is_some_and(|d| d.is_empty() || d.trim() != d) {
            return Err(ApiError(AppError::validation(field, "Give a date as YYYY-MM-DD.")));
        }
    }
    let granted = p.ctx.require::<app::backend::access::perm::VaultRead>()?;
    let query = VaultQuery {
        folder: q.folder,
        q: q.q,
        min_size: q.min_size.map(|n| n.to_string()),
        max_size: q.max_size.map(|n| n.to_string()),
        from: q.from,
        to: q.to,
        deleted: q.deleted.filter(|d| *d).map(|_| "1".to_owned()),
    };
    let l = list::list(&state, &p.ctx, &granted, &query).await?;
    Ok(Json(VaultListing {
        folder: l.folder,
        folders: l.folders,
        files: l.files.into_iter().map(Into::into).collect(),
        truncated: l.truncated,
    }))
}

/// Uploads a file (a new version when the path exists). The body is the content.
#[utoipa::path(put, path = "/vault/files", tag = "vault", params(UploadParams),
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream",
        description = "The content (none: an empty file)"),
    security(("api_key" = ["vault:write"])),
    responses((status = 201, body = VaultFile), (status = 403, body = super::openapi::ErrorBody),
        (status = 422, description = "Bad path, too large, or flagged by the virus scanner", body = super::openapi::ErrorBody)))]
pub async fn upload_file(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    params: Result<Query<UploadParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Query(q) = params.map_err(|_| AppError::validation("path", "Give the file's path as ?path=…"))?;
    let granted = p.ctx.require::<app::backend::access::perm::VaultWrite>()?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let meta = meta(&p, m);
    match files::upload(&state, &p.ctx, &granted, &meta, &q.path, ct, body.into_data_stream()).await {
        Ok(file) => Ok((StatusCode::CREATED, Json(VaultFile::from(file))).into_response()),
        Err(e) => {
            // Refused midway (too large, flagged): the rest of the body is never read, so the connection closes.
            let mut res = ApiError(e).into_response();
            res.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            Ok(res)
        }
    }
}

/// A file and its versions.
#[utoipa::path(get, path = "/vault/files/{id}", tag = "vault", params(BinParams),
    security(("api_key" = ["vault:read"])),
    responses((status = 200, body = VaultFileDetail), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn get_file(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    Path(id): Path<String>,
    params: Result<Query<BinParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<VaultFileDetail>, ApiError> {
    let Query(bin) = params.map_err(|e| AppError::validation("query", e.body_text()))?;
    let granted = p.ctx.require::<app::backend::access::perm::VaultRead>()?;
    let d = list::detail(&state, &p.ctx, &granted, &id).await?;
    // DELETE moved it to the bin: at its own address it is gone, as DELETE promises.
    if d.file.deleted_at.is_some() && bin.deleted != Some(true) {
        return Err(ApiError(AppError::NotFound));
    }
    Ok(Json(VaultFileDetail { file: d.file.into(), versions: d.versions.into_iter().map(Into::into).collect() }))
}

/// Downloads a file's content (decrypted, as an attachment).
#[utoipa::path(get, path = "/vault/files/{id}/content", tag = "vault", params(ContentParams),
    security(("api_key" = ["vault:read"])),
    responses((status = 200, description = "The content", content_type = "application/octet-stream"),
        (status = 404, body = super::openapi::ErrorBody)))]
pub async fn download_file(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    Path(id): Path<String>,
    Query(q): Query<ContentParams>,
) -> Result<Response, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::VaultRead>()?;
    let meta = meta(&p, m);
    let d = read::download(&state, &p.ctx, &granted, &meta, &id, q.version.as_deref()).await?;
    Ok(crate::web::download::response(d))
}

/// Moves a file to the bin (restorable until it is purged).
#[utoipa::path(delete, path = "/vault/files/{id}", tag = "vault", security(("api_key" = ["vault:write"])),
    responses((status = 200, body = VaultFile), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn delete_file(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    Path(id): Path<String>,
) -> Result<Json<VaultFile>, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::VaultWrite>()?;
    Ok(Json(manage::delete(&state, &p.ctx, &granted, &meta(&p, m), &id).await?.into()))
}

/// Takes a file out of the bin.
#[utoipa::path(post, path = "/vault/files/{id}/undelete", tag = "vault", security(("api_key" = ["vault:write"])),
    responses((status = 200, body = VaultFile), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn undelete_file(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    Path(id): Path<String>,
) -> Result<Json<VaultFile>, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::VaultWrite>()?;
    Ok(Json(manage::undelete(&state, &p.ctx, &granted, &meta(&p, m), &id).await?.into()))
}

/// Makes an older version current again (as a new version).
#[utoipa::path(post, path = "/vault/files/{id}/versions/{version_id}/restore", tag = "vault",
    security(("api_key" = ["vault:write"])),
    responses((status = 200, body = VaultFile), (status = 404, body = super::openapi::ErrorBody)))]
pub async fn restore_version(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    Path((id, version_id)): Path<(String, String)>,
) -> Result<Json<VaultFile>, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::VaultWrite>()?;
    Ok(Json(manage::restore_version(&state, &p.ctx, &granted, &meta(&p, m), &id, &version_id).await?.into()))
}

/// Mints an ephemeral download link (at most 7 days; optionally single-use).
#[utoipa::path(post, path = "/vault/files/{id}/links", tag = "vault", request_body = NewLink,
    security(("api_key" = ["vault:read"])),
    responses((status = 201, body = Link), (status = 404, body = super::openapi::ErrorBody),
        (status = 422, body = super::openapi::ErrorBody)))]
pub async fn create_link(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    Path(id): Path<String>,
    super::ApiJson(body): super::ApiJson<NewLink>,
) -> Result<Response, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::VaultRead>()?;
    let request =
        links::LinkRequest { version_id: body.version_id, minutes: body.minutes, single_use: body.single_use };
    let l = links::create(&state, &p.ctx, &granted, &meta(&p, m), &id, &request).await?;
    Ok((StatusCode::CREATED, Json(Link { id: l.id, url: l.url, expires_at: l.expires_at, single_use: l.single_use }))
        .into_response())
}
