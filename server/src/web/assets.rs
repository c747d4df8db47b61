//! The built site's script, WebAssembly and stylesheet, served under a content-addressed path:
//! `/pkg/<fingerprint>/<file>`, where the fingerprint is a digest of every file of `site_root/pkg` taken at
//! start. A new build means a new path, so these files are cached for a year as `immutable` and a repeat visit
//! fetches none of them; a stale path answers 404. Each file is served precompressed (`.br`, `.gz`, written at
//! build time by `scripts/precompress.mjs`) when the client accepts it (`Vary: Accept-Encoding`).

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

/// The immutable policy of fingerprinted files.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The fingerprint of the files in `pkg` (their names and contents; precompressed copies excluded), 16 hex
/// digits; the same for a directory that does not exist (tests serve no build).
pub fn fingerprint(pkg: &std::path::Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(pkg)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    names.retain(|p| !matches!(p.extension().and_then(|e| e.to_str()), Some("br" | "gz")));
    names.sort();
    let mut digest = Sha256::new();
    for path in names {
        if let (Some(name), Ok(bytes)) = (path.file_name(), std::fs::read(&path)) {
            digest.update(name.to_string_lossy().as_bytes());
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(&bytes);
        }
    }
    hex::encode(&digest.finalize()[..8])
}

/// Where the fingerprinted files are.
#[derive(Clone, Debug)]
pub struct Assets {
    pub fingerprint: Arc<str>,
    pub dir: Arc<std::path::Path>,
}

/// `GET /pkg/{fingerprint}/{*file}`.
pub async fn serve(
    State(assets): State<Assets>,
    Path((print, file)): Path<(String, String)>,
    req: Request,
) -> Response {
    if print != *assets.fingerprint || file.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (mut parts, _) = req.into_parts();
    parts.uri = match format!("/{file}").parse() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let dir = ServeDir::new(&*assets.dir).precompressed_br().precompressed_gzip();
    let mut res = match dir.oneshot(Request::from_parts(parts, Body::empty())).await {
        Ok(res) => res.into_response(),
        Err(never) => match never {},
    };
    if res.status() == StatusCode::OK {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}
