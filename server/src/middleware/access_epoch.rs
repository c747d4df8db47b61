//! The safety net of the session cache (`app::backend::access::epoch`): after every state-changing request
//! that succeeded, the access epoch moves, so no cached session or membership outlives a change made by a
//! request of this instance, whichever function made it. Failed requests change nothing and move nothing (a
//! sign-in storm of wrong passwords leaves the cache of the members at work alone). The other instances are
//! told too (`app::backend::access::changes`).

use app::backend::AppState;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

pub async fn access_epoch(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let res = next.run(req).await;
    if !safe && res.status().as_u16() < 400 {
        app::backend::access::epoch::bump();
        state.changes.announce();
    }
    res
}
