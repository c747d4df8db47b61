//! Every request gets an id: minted here (never taken from the client), returned in `X-Request-Id`, carried
//! by a tracing span around the whole request, and used as the operation id of any internal error it meets
//! (`app::backend::crypto::op_id`), so the "ref" a user reads is the id in the log and in the header.

use app::backend::crypto::{new_request_id, REQUEST_ID};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

pub async fn request_id(req: Request, next: Next) -> Response {
    let id = new_request_id();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = REQUEST_ID.scope(id.clone(), next.run(req)).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
