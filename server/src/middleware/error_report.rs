//! Error reports for the operator (Springly: "our technical teams receive a detailed report so that they can
//! correct the bug even if the user who suffered the bug does not report it"). Every request runs inside a
//! report scope (`app::backend::platform::failure`): an internal error raised while serving it is reported
//! where it happens; a 5xx nothing explained and a panic are reported here. A panic becomes a 500 with the
//! request's id as its reference instead of a dropped connection.

use crate::errors::error_response;
use crate::middleware::request_id::loggable;
use app::backend::platform::failure::Scope;
use app::backend::platform::ids::op_id;
use app::backend::AppState;
use app::model::AppError;
use axum::extract::Request;
use axum::response::Response;
use futures_util::FutureExt as _;
use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The report scope a request runs in: its id (the one in `X-Request-Id`) and its path as a log may hold it.
pub fn scope_for(state: &AppState, req: &Request) -> Arc<Scope> {
    Scope::new(state.failures.clone(), op_id(), loggable(req.uri().path()).into_owned())
}

/// Runs what serves the request with panics caught: a 5xx nothing explained and a panic are reported; a panic
/// is answered 500 with the request's id as its reference.
pub async fn caught<F: Future<Output = Response>>(scope: &Scope, html: bool, serve: F) -> Response {
    match AssertUnwindSafe(serve).catch_unwind().await {
        Ok(res) => {
            scope.report_response(res.status().as_u16());
            res
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            let location = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "unknown".to_owned());
            let op_id = op_id();
            tracing::error!(op_id = %op_id, location = %location, "panic while serving a request: {message}");
            scope.report_panic(&message, &location);
            error_response(&AppError::Internal { op_id }, html)
        }
    }
}

thread_local! {
    /// Where the last panic on this thread happened (the payload does not say).
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Keeps each panic's location for its report, then runs the previous hook (which prints it). Once a process.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
            PANIC_AT.with(|p| *p.borrow_mut() = at);
            previous(info);
        }));
    });
}
