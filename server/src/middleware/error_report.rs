//! Error reports for the operator (Springly: "our technical teams receive a detailed report so that they can
//! correct the bug even if the user who suffered the bug does not report it"). Every request runs inside a
//! report scope (`app::backend::platform::failure`): an internal error raised while serving it is reported
//! where it happens; a 5xx nothing explained and a panic are reported here. A panic becomes a 500 with the
//! request's id as its reference instead of a dropped connection.

use crate::errors::{error_response, wants_html};
use crate::middleware::request_id::loggable;
use app::backend::platform::failure::Scope;
use app::backend::platform::ids::op_id;
use app::backend::AppState;
use app::model::AppError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt as _;
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;

pub async fn error_report(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let html = wants_html(req.headers());
    let scope = Scope::new(state.failures.clone(), op_id(), loggable(req.uri().path()).into_owned());
    match scope.clone().run(AssertUnwindSafe(next.run(req)).catch_unwind()).await {
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
