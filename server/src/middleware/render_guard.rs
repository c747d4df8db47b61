//! A page's rendering, rendered once more if it stalls: a safety net, counted
//! (`rampart_page_render_retries_total`) and logged. It was added for lost wake-ups of Leptos' server-side
//! `<Suspense>` (leptos-rs/leptos#4851, #4853), which the leptos 0.8.23 used here has fixed; `make bench` renders
//! 100,000 signed-in pages and has seen it fire zero times. The slow responses it did see were SQLite writers
//! losing the lock race for over a second, now queued in `platform::db::begin_write`. A GET is safe to render
//! again, and the stalled try is dropped before it saved anything. Other requests pass straight through.
//!
//! It runs where a page is rendered: behind the session gate and the kept pages (`page_memo::serve`), so a kept
//! page, which renders nothing, pays for neither the copy of the request a second try needs nor the timer.

use crate::errors::{error_response, wants_html};
use app::backend::platform::metrics::Metrics;
use app::model::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;
use tower::Service as _;

/// How long a page may take before it is rendered again.
const RENDER_DEADLINE: Duration = Duration::from_secs(8);

/// Runs the rest of the stack: a page (a GET or HEAD outside `/api/`) within the deadline, once more if it
/// misses it, and then a 503.
pub async fn render(next: Next, req: Request, metrics: &Metrics) -> Response {
    render_within(next, req, metrics, RENDER_DEADLINE).await
}

async fn render_within(mut next: Next, req: Request, metrics: &Metrics, deadline: Duration) -> Response {
    let is_page = matches!(*req.method(), Method::GET | Method::HEAD) && !req.uri().path().starts_with("/api/");
    if !is_page {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let html = wants_html(&parts.headers);
    let first = Request::from_parts(parts.clone(), body);
    if let Ok(res) = tokio::time::timeout(deadline, next.call(first)).await {
        return res.unwrap_or_else(|never| match never {});
    }
    metrics.page_render_retried();
    tracing::warn!(path = %parts.uri.path(), "page rendering stalled; rendering it again");
    match tokio::time::timeout(deadline, next.run(Request::from_parts(parts, Body::empty()))).await {
        Ok(res) => res,
        Err(_) => error_response(&AppError::Unavailable, html),
    }
}

#[cfg(test)]
mod tests;
