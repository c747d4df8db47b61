//! Error responses outside Leptos' rendering (the REST API, the gate, the origin check, outages, panics): JSON
//! `{"error": {"code", "message"}}` for API clients, a small HTML page for browsers. Status and `Retry-After`
//! come from `AppError::status_code` and `AppError::retry_after`, the one mapping, which server functions use
//! too (`app::api::ssr::finish`); internal errors get their reference and report in
//! `app::backend::platform::failure::internal`.

use app::backend::platform::text::escape_html;
use app::model::AppError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse as _, Response};

/// Whether the client prefers HTML (a browser navigation or a no-JS form).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// Renders an error for the client.
pub fn error_response(err: &AppError, html: bool) -> Response {
    let status = StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = err.to_string();
    let mut res = if html {
        let title = status.canonical_reason().unwrap_or("Error");
        Html(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>{title} · Rampart</title>\
             <link rel=\"stylesheet\" href=\"/pkg/rampart.css\"></head><body><main class=\"page narrow\">\
             <h1>{title}</h1><p>{}</p><p><a href=\"/\">Back to the console</a></p></main></body></html>",
            escape_html(&message)
        ))
        .into_response()
    } else {
        axum::Json(serde_json::json!({ "error": { "code": err.code(), "message": message } })).into_response()
    };
    *res.status_mut() = status;
    if let Some(v) = err.retry_after().and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// A 403 with its own message (a refusal by the tenant's network rules): `{"error": {"code": "ip_refused"}}`
/// for API clients, a small page for browsers.
pub fn refusal_response(message: &str, html: bool) -> Response {
    let mut res = if html {
        Html(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>Access refused · Rampart</title>\
             <link rel=\"stylesheet\" href=\"/pkg/rampart.css\"></head><body><main class=\"page narrow\">\
             <h1>Access refused from this network</h1><p role=\"alert\">{}</p></main></body></html>",
            escape_html(message)
        ))
        .into_response()
    } else {
        axum::Json(serde_json::json!({ "error": { "code": "ip_refused", "message": message } })).into_response()
    };
    *res.status_mut() = StatusCode::FORBIDDEN;
    res
}
