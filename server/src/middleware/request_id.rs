//! Every request gets an id: minted here (never taken from the client), returned in `X-Request-Id`, carried
//! by a tracing span around the whole request, and used as the operation id of any internal error it meets
//! (`app::backend::platform::ids::op_id`), so the "ref" a user reads is the id in the log and in the header.

use app::backend::platform::ids::{new_request_id, REQUEST_ID};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

pub async fn request_id(req: Request, next: Next) -> Response {
    let id = new_request_id();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %loggable(req.uri().path()));
    let mut res = REQUEST_ID.scope(id.clone(), next.run(req)).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// Paths whose next segment is a bearer secret (a one-time link's token): logged as `…`.
const SECRET_SEGMENT_AFTER: [&str; 4] = ["/setup/", "/reset-password/", "/invite/", "/vault/links/"];

/// The path as the log may hold it: the token of a setup, reset, invitation or vault link never reaches a log.
pub(crate) fn loggable(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{tail}").into();
        }
    }
    path.into()
}

#[cfg(test)]
mod tests {
    use super::loggable;

    #[test]
    fn link_tokens_never_reach_the_log() {
        assert_eq!(loggable("/vault/links/z58tWrl_IdQMfQrq4M2B3"), "/vault/links/…");
        assert_eq!(loggable("/setup/abc/extra"), "/setup/…/extra");
        assert_eq!(loggable("/reset-password/t"), "/reset-password/…");
        assert_eq!(loggable("/invite/t"), "/invite/…");
        assert_eq!(loggable("/vault/files/123"), "/vault/files/123");
        assert_eq!(loggable("/api/v1/keys/abc/roll"), "/api/v1/keys/abc/roll");
    }
}
