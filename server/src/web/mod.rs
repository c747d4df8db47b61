//! The console's plain HTTP handlers beside its pages and server functions: file transfers in and out of the
//! vault, data-export downloads, and the access-history export.

pub mod assets;
pub mod download;
pub mod export;
pub mod history_export;
pub mod support;
pub mod vault;

/// The answer to a HEAD of a one-time link (a vault link, a support link): 204, not stored, nothing looked up,
/// nothing used. Link checkers and mail scanners send HEAD; the link stays for the person it was made for.
pub fn untouched_head() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (axum::http::StatusCode::NO_CONTENT, [(axum::http::header::CACHE_CONTROL, "no-store")]).into_response()
}
