//! `/api/v1/exports`: data exports for machines — master keys only (the only keys with the `export` feature;
//! any other key gets 403). A key starts an export (202), follows its progress, and downloads the ZIP; only the
//! key that asked for it may download it, for 24 hours after it is ready.

use super::ApiError;
use app::backend::approvals::{self, Act, Gate};
use app::backend::export::{self, Fresh};
use app::backend::keys::verify::ApiPrincipal;
use app::backend::platform::request::RequestMeta;
use app::backend::AppState;
use app::model::{AppError, DataExportView};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::{Extension, Json};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// An export and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataExport {
    pub id: String,
    /// queued, running, ready, failed or expired.
    pub status: String,
    pub requested_by: String,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Until when the download works (24 hours after it is ready).
    pub expires_at: Option<i64>,
    pub done_entries: i64,
    pub total_entries: i64,
    /// Vault bytes written so far, of all.
    pub done_bytes: i64,
    pub total_bytes: i64,
    /// The ZIP's size once ready.
    pub size: Option<i64>,
    /// Where the requesting key downloads it, once ready.
    pub download_url: Option<String>,
    pub error: Option<String>,
}

impl From<DataExportView> for DataExport {
    fn from(e: DataExportView) -> Self {
        let ready = e.state == app::model::ExportState::Ready && e.mine;
        Self {
            download_url: ready.then(|| format!("/api/v1/exports/{}/download", e.id)),
            id: e.id,
            status: e.state.as_str().to_owned(),
            requested_by: e.requested_by,
            created_at: e.created_at,
            finished_at: e.finished_at,
            expires_at: e.expires_at,
            done_entries: e.done_entries,
            total_entries: e.total_entries,
            done_bytes: e.done_bytes,
            total_bytes: e.total_bytes,
            size: e.size,
            error: e.error,
        }
    }
}

fn meta(m: Option<Extension<RequestMeta>>) -> RequestMeta {
    m.map(|Extension(m)| m).unwrap_or_default()
}

/// Starts an export of all of the organisation's data; it is built in the background.
#[utoipa::path(post, path = "/exports", tag = "exports", security(("api_key" = ["master"])),
    responses((status = 202, description = "Queued", body = DataExport),
        (status = 403, description = "Not a master key", body = super::openapi::ErrorBody),
        (status = 409, description = "An export is already being built, or the organisation requires a second \
            admin's approval for exports (ask for it in the console)", body = super::openapi::ErrorBody)))]
pub async fn start_export(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
) -> Result<Response, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::Export>()?;
    let meta = meta(m);
    // Four-eyes: a key cannot wait for an approval; the organisation's admins ask in the console.
    let mut conn = state.pool.acquire().await.map_err(AppError::from)?;
    if approvals::required(&mut conn, p.ctx.tenant_id()).await? {
        return Err(ApiError(AppError::Conflict {
            msg: "This organisation requires a second admin's approval for data exports: ask for it in the console."
                .to_owned(),
        }));
    }
    drop(conn);
    let Gate::Go(cleared) = approvals::gate(&state, &p.ctx, &meta, Act::DataExport, None).await? else {
        return Err(ApiError(AppError::Conflict { msg: "The export waits for a second admin's approval.".to_owned() }));
    };
    let view = export::request(&state, &p.ctx, &granted, Fresh::MasterKey(&p), &meta, &cleared).await?;
    Ok((StatusCode::ACCEPTED, Json(DataExport::from(view))).into_response())
}

/// An export's status and progress.
#[utoipa::path(get, path = "/exports/{id}", tag = "exports", security(("api_key" = ["master"])),
    responses((status = 200, body = DataExport), (status = 403, body = super::openapi::ErrorBody),
        (status = 404, body = super::openapi::ErrorBody)))]
pub async fn get_export(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    Path(id): Path<String>,
) -> Result<Json<DataExport>, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::Export>()?;
    Ok(Json(export::get(&state, &p.ctx, &granted, &id).await?.into()))
}

/// Downloads a ready export (a ZIP), by the key that asked for it only.
#[utoipa::path(get, path = "/exports/{id}/download", tag = "exports", security(("api_key" = ["master"])),
    responses((status = 200, description = "The ZIP", content_type = "application/zip"),
        (status = 403, body = super::openapi::ErrorBody),
        (status = 404, description = "Unknown, failed, expired, or asked for by another key",
            body = super::openapi::ErrorBody),
        (status = 409, description = "Still being prepared (poll `GET /api/v1/exports/{id}`)",
            body = super::openapi::ErrorBody)))]
pub async fn download_export(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    m: Option<Extension<RequestMeta>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::Export>()?;
    let d = export::download(&state, &p.ctx, &granted, &meta(m), &id).await?;
    Ok(crate::web::download::attachment(d.body, "application/zip", d.size, &d.file_name))
}
