//! The console's vault transfers, beside the pages (which list, show versions and act through server
//! functions):
//! - `POST /vault/upload`: a multipart form with `folder` (then optionally `subfolder`, a new folder under it)
//!   and one or more `file` fields, streamed field by field (never buffered whole). Without JavaScript the form posts here and is redirected back to the folder
//!   (303) with a notice; with JavaScript the page sends the same form by XHR (for its progress bar) asking for
//!   JSON. It is outside the console's 64 KiB body limit; the vault's own size limit applies per file.
//! - `GET /vault/files/{id}/download[?version=…]`: a signed-in member with vault read access.
//! - `GET /vault/links/{token}`: an ephemeral link, no session needed (mounted outside the session layers).

use crate::errors::{error_response, wants_html};
use app::backend::access::CurrentAuth;
use app::backend::platform::request::RequestMeta;
use app::backend::vault::{files, links, paths, read};
use app::backend::AppState;
use app::model::{AppError, VaultFileView};
use axum::extract::{FromRequest as _, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse as _, Redirect, Response};
use axum::{Extension, Json};
use serde::Deserialize;

/// Multipart uploads from the console.
pub async fn upload(State(state): State<AppState>, Extension(auth): Extension<CurrentAuth>, req: Request) -> Response {
    let html = !req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let meta = RequestMeta::of(req.extensions(), req.headers());
    match receive(&state, auth, &meta, req).await {
        Ok((folder, files)) if html => {
            let notice = format!("{} file{} uploaded", files.len(), if files.len() == 1 { "" } else { "s" });
            Redirect::to(&format!("/vault?folder={}&notice={}", query_encode(&folder), query_encode(&notice)))
                .into_response()
        }
        Ok((_, files)) => Json(files).into_response(),
        Err(e) if html => {
            let msg = match &e {
                AppError::Validation { msg, .. } => msg.clone(),
                other => other.to_string(),
            };
            Redirect::to(&format!("/vault?error={}", query_encode(&msg))).into_response()
        }
        Err(e) => error_response(&e, false),
    }
}

async fn receive(
    state: &AppState,
    auth: CurrentAuth,
    meta: &RequestMeta,
    req: Request,
) -> Result<(String, Vec<VaultFileView>), AppError> {
    let ctx = auth.0.ok_or(AppError::Unauthenticated)?;
    let granted = ctx.require::<app::backend::access::perm::VaultWrite>()?;
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| AppError::validation("file", "Send the files as multipart/form-data."))?;
    let result = read_fields(state, &ctx, &granted, meta, &mut form).await;
    if result.is_err() {
        drain(&mut form).await;
    }
    result
}

async fn read_fields(
    state: &AppState,
    ctx: &app::backend::access::TenantCtx,
    granted: &app::backend::access::Granted<app::backend::access::perm::VaultWrite>,
    meta: &RequestMeta,
    form: &mut Multipart,
) -> Result<(String, Vec<VaultFileView>), AppError> {
    let mut folder = String::new();
    let mut stored = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| AppError::validation("file", e.body_text()))? {
        match field.name() {
            Some("folder") => {
                let text = field.text().await.map_err(|e| AppError::validation("folder", e.body_text()))?;
                folder = paths::folder_path(&text)?;
            }
            // The console's optional "new subfolder" field, sent after `folder` and before the files.
            Some("subfolder") => {
                let text = field.text().await.map_err(|e| AppError::validation("subfolder", e.body_text()))?;
                let sub = text.trim().trim_matches('/');
                if !sub.is_empty() {
                    folder = paths::folder_path(&format!("{folder}{sub}"))?;
                }
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                // Browsers send the bare name; a path in it (old IE, drag-and-drop of folders) keeps its last part.
                let name = name.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
                if name.is_empty() {
                    continue; // the form's empty file input
                }
                let content_type = field.content_type().map(str::to_owned);
                let path = format!("{folder}{name}");
                stored.push(files::upload(state, ctx, granted, meta, &path, content_type.as_deref(), field).await?);
            }
            _ => {}
        }
    }
    if stored.is_empty() {
        return Err(AppError::validation("file", "Choose at least one file."));
    }
    Ok((folder, stored))
}

/// After a refusal, reads what the client is still sending (up to 8 MiB, dropped): a response before the
/// body's end would have the connection closed under a client that may already be reusing it.
async fn drain(form: &mut Multipart) {
    let mut left: usize = 8 << 20;
    while let Ok(Some(mut field)) = form.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                return;
            }
        }
    }
}

fn query_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    version: Option<String>,
}

/// A signed-in member's download.
pub async fn download(
    State(state): State<AppState>,
    Extension(auth): Extension<CurrentAuth>,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
    req: Request,
) -> Response {
    let html = wants_html(req.headers());
    let meta = RequestMeta::of(req.extensions(), req.headers());
    let result = async {
        let ctx = auth.0.ok_or(AppError::Unauthenticated)?;
        let granted = ctx.require::<app::backend::access::perm::VaultRead>()?;
        read::download(&state, &ctx, &granted, &meta, &id, q.version.as_deref().filter(|v| !v.is_empty())).await
    }
    .await;
    match result {
        Ok(d) => crate::web::download::response(d),
        Err(e) => error_response(&e, html),
    }
}

/// An ephemeral link.
pub async fn follow_link(State(state): State<AppState>, Path(token): Path<String>, req: Request) -> Response {
    let html = wants_html(req.headers());
    let meta = RequestMeta::of(req.extensions(), req.headers());
    if token.len() > 100 {
        return refused(links::LinkRefusal::Unknown, html);
    }
    match links::follow(&state, &meta, &token).await {
        Ok(Ok(d)) => crate::web::download::response(d),
        Ok(Err(r)) => refused(r, html),
        Err(e) => error_response(&e, html),
    }
}

fn refused(r: links::LinkRefusal, html: bool) -> Response {
    let mut res = crate::errors::refusal_response(r.message(), html);
    *res.status_mut() = if r == links::LinkRefusal::Unknown { StatusCode::NOT_FOUND } else { StatusCode::GONE };
    res
}
