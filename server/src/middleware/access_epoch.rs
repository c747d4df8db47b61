//! The safety net of the session cache (`app::backend::access::epoch`): after every state-changing request
//! that succeeded, the access epoch moves, so no cached session or membership outlives a change made by a
//! request of this instance, whichever function made it. Failed requests change nothing and move nothing (a
//! sign-in storm of wrong passwords leaves the cache of the members at work alone). The other instances are
//! told too (`app::backend::access::changes`).

use app::backend::AppState;
use axum::http::{Method, StatusCode};

/// Whether a request of `method` may change anything (a safe one never moves the epoch).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// After a request that may change state: moves the epoch when it succeeded.
pub fn after(state: &AppState, changes: bool, status: StatusCode) {
    if changes && status.as_u16() < 400 {
        app::backend::access::epoch::bump();
        state.changes.announce();
    }
}
