//! Refuses state-changing requests from other origins (OWASP CSRF cheat sheet: Fetch Metadata plus Origin
//! verification), in addition to SameSite=Strict cookies. Requests without either header (non-browser
//! clients) pass: they carry no ambient cookies of a victim.

use crate::errors::{error_response, wants_html};
use app::model::AppError;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// The origins a browser form or fetch may come from.
#[derive(Debug, Clone)]
pub struct AllowedOrigin(pub Arc<str>);

/// Whether a request with these headers may change state.
pub fn allowed(
    method: &Method,
    origin: Option<&str>,
    fetch_site: Option<&str>,
    host: Option<&str>,
    public: &str,
) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = fetch_site {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match origin {
        None => true,
        Some(o) => o == public || host.is_some_and(|h| o == format!("https://{h}")),
    }
}

/// The console's first layer (one boxed future for both): notes the route the console matched
/// (`request_id::note_route`), then refuses a state change from another origin.
pub async fn console_entry(State(public): State<AllowedOrigin>, req: Request, next: Next) -> Response {
    super::request_id::note_route(&req);
    let h = req.headers();
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    if allowed(
        req.method(),
        get("origin"),
        get("sec-fetch-site"),
        // HTTP/1.1 names the host in `Host`; HTTP/2 in the `:authority` pseudo-header, which is the URI's.
        h.get(header::HOST).and_then(|v| v.to_str().ok()).or_else(|| req.uri().authority().map(|a| a.as_str())),
        &public.0,
    ) {
        next.run(req).await
    } else {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-origin request refused");
        error_response(&AppError::Forbidden, wants_html(req.headers()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_may_post() {
        let p = "https://console.example";
        assert!(allowed(&Method::GET, Some("https://evil.example"), Some("cross-site"), None, p));
        assert!(allowed(&Method::POST, Some(p), Some("same-origin"), None, p));
        assert!(allowed(&Method::POST, None, None, None, p));
        assert!(allowed(&Method::POST, Some("https://127.0.0.1:9"), None, Some("127.0.0.1:9"), p));
        assert!(!allowed(&Method::POST, Some("https://evil.example"), None, Some("console.example"), p));
        assert!(!allowed(&Method::POST, Some(p), Some("cross-site"), None, p));
        assert!(!allowed(&Method::POST, Some(p), Some("same-site"), None, p));
        assert!(!allowed(&Method::DELETE, Some("null"), None, None, p));
    }
}
