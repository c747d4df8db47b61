//! Refuses every request, console and REST API alike, from a client IP that is automatically blocked for
//! tripping the per-IP limit on failed sign-ins (`app::backend::network::ip_guard`): 429 with `Retry-After`
//! and a message that says why (code `ip_blocked`). The block itself is audited once, as `ip.auto_block`,
//! when it starts. `/healthz` and `/readyz` stay reachable.

use app::backend::platform::request::ClientIp;
use app::backend::AppState;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse as _, Response};

/// What a blocked client is told.
pub fn blocked_message(minutes: u64) -> String {
    format!(
        "Too many failed sign-ins came from your network address, so it is blocked for {minutes} more minute(s). \
         Try again later; if this keeps happening, contact your administrator."
    )
}

/// The address the check applies to: the request's client IP, unless it asks for a health probe.
pub fn checked_ip(req: &Request) -> Option<String> {
    let probe = matches!(req.uri().path(), "/healthz" | "/readyz");
    req.extensions().get::<ClientIp>().filter(|_| !probe).map(|ip| ip.0.to_string())
}

/// The refusal (an HTML page or JSON) of a request whose checked address is blocked now; `None` lets it through.
pub async fn refusal(state: &AppState, ip: Option<String>, html: bool) -> Option<Response> {
    let now = state.clock.now_ms();
    let until = state.ip_guard.blocked_until(&state.pool, &ip?, now).await?;
    state.metrics.ip_blocked_request();
    let retry_after = u64::try_from(until - now).unwrap_or(0).div_ceil(1000).max(1);
    let message = blocked_message(retry_after.div_ceil(60));
    let mut res = if html {
        Html(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Blocked · Rampart</title>\
             <link rel=\"stylesheet\" href=\"/pkg/rampart.css\"></head><body><main class=\"page narrow\">\
             <h1>Temporarily blocked</h1><p>{message}</p></main></body></html>"
        ))
        .into_response()
    } else {
        axum::Json(serde_json::json!({ "error": { "code": "ip_blocked", "message": message } })).into_response()
    };
    *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(res)
}
