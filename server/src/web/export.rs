//! The console's side of data exports, beside the page (which starts them and shows progress through server
//! functions):
//! - `GET /data-export/{id}/download`: the ZIP, decrypted as it streams, for the member who asked for it only
//!   (anyone else, and everyone after 24 hours: 404).
//! - `GET /.well-known/rampart-export-key`: the Ed25519 public key (PEM) that checks every export's
//!   `manifest.sig`; no session needed (mounted outside the session layers).

use crate::errors::{error_response, wants_html};
use app::backend::access::CurrentAuth;
use app::backend::export;
use app::backend::platform::request::RequestMeta;
use app::backend::AppState;
use app::model::AppError;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse as _, Response};
use axum::Extension;

/// The requester's download.
pub async fn download(
    State(state): State<AppState>,
    Extension(auth): Extension<CurrentAuth>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let html = wants_html(req.headers());
    let meta = RequestMeta::of(req.extensions(), req.headers());
    let result = async {
        let ctx = auth.0.ok_or(AppError::Unauthenticated)?;
        let granted = ctx.require::<app::backend::access::perm::Export>()?;
        export::download(&state, &ctx, &granted, &meta, &id).await
    }
    .await;
    match result {
        Ok(d) => crate::web::download::attachment(d.body, "application/zip", d.size, &d.file_name),
        Err(e) => error_response(&e, html),
    }
}

/// The public key that verifies export manifests.
pub async fn public_key(State(state): State<AppState>) -> Response {
    let mut res = state.keys.export_public_key_pem().into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-pem-file"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    res
}
