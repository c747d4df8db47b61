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
    let (req, arrived) = Arrived::counting(req);
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|_| AppError::validation("file", "Send the files as multipart/form-data."))?;
    // Every file of the form arrives before any is recorded: one refused (too large, flagged, cut off) leaves
    // none of the others behind.
    let mut received = Vec::new();
    let folder = match read_fields(state, &ctx, &granted, meta, &mut form, &arrived, &mut received).await {
        Ok(folder) => folder,
        Err(e) => {
            drain(&mut form).await;
            files::discard(state, &ctx, received).await;
            return Err(e);
        }
    };
    if received.is_empty() {
        return Err(AppError::validation("file", "Choose at least one file."));
    }
    Ok((folder, files::record(state, &ctx, &granted, meta, received).await?))
}

async fn read_fields(
    state: &AppState,
    ctx: &app::backend::access::TenantCtx,
    granted: &app::backend::access::Granted<app::backend::access::perm::VaultWrite>,
    meta: &RequestMeta,
    form: &mut Multipart,
    arrived: &Arrived,
    received: &mut Vec<files::Received>,
) -> Result<String, AppError> {
    let mut folder = String::new();
    let mut fields = 0;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                arrived.log_unreadable(fields, &e.body_text());
                return Err(AppError::validation("file", e.body_text()));
            }
        };
        fields += 1;
        match field.name() {
            Some("folder") => {
                let text = small_text(field, "folder").await?;
                folder = paths::folder_path(&text)?;
            }
            // The console's optional "new subfolder" field, sent after `folder` and before the files.
            Some("subfolder") => {
                let text = small_text(field, "subfolder").await?;
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
                received.push(files::receive(state, ctx, granted, meta, &path, content_type.as_deref(), field).await?);
            }
            _ => {}
        }
    }
    Ok(folder)
}

/// The longest folder name field the form takes (a vault path is far shorter): the body has no overall limit,
/// so a text field is read only this far.
const MAX_TEXT_FIELD: usize = 4096;

/// A text field of the form, refused past `MAX_TEXT_FIELD` bytes before more of it is read.
async fn small_text(mut field: axum::extract::multipart::Field<'_>, name: &str) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| AppError::validation(name, e.body_text()))? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(AppError::validation(name, "This folder name is too long."));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| AppError::validation(name, "This folder name is not valid text."))
}

/// How much of an upload's body has arrived, for the log line of a form that could not be read (counts and the
/// HTTP version only, never content): a browser's upload was once refused as an incomplete multipart stream.
struct Arrived {
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    declared: Option<u64>,
    version: axum::http::Version,
}

impl Arrived {
    fn counting(req: Request) -> (Request, Self) {
        use futures_util::TryStreamExt as _;
        let declared =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let arrived = Self { bytes: Default::default(), declared, version: req.version() };
        let (parts, body) = req.into_parts();
        let bytes = arrived.bytes.clone();
        let body = body.into_data_stream().inspect_ok(move |chunk| {
            bytes.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        });
        (Request::from_parts(parts, axum::body::Body::from_stream(body)), arrived)
    }

    fn log_unreadable(&self, fields: usize, error: &str) {
        let received = self.bytes.load(std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(received, declared = ?self.declared, version = ?self.version, fields, error, "an upload's form could not be read");
    }
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
    // A link checker's or mail scanner's HEAD uses nothing up (a single-use link stays for its person) and
    // learns nothing: the same empty answer for every token.
    if req.method() == axum::http::Method::HEAD {
        return crate::web::untouched_head();
    }
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
