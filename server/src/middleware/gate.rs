//! The session gate: resolves the signed-in tenant context once per request (`CurrentAuth` in the request
//! extensions, read by server functions and pages) and denies by default: every page except the public ones
//! below redirects a signed-out browser to sign in. Server functions (`/api/…`) enforce their own context.

use super::headers::is_static_path;
use crate::errors::{error_response, wants_html};
use app::backend::context::CurrentAuth;
use app::backend::{sessions, AppState};
use app::model::AppError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Redirect, Response};
use tower_sessions::Session;

/// Pages anyone may see. The second-factor and enrollment pages are here because a half-signed-in browser
/// (password accepted, no session yet) must reach them; their server functions check that state themselves.
fn is_public_page(path: &str) -> bool {
    matches!(path, "/sign-in" | "/healthz" | "/sign-in/two-factor" | "/two-factor/setup" | "/forgot-password")
        || path.starts_with("/setup/")
        || path.starts_with("/reset-password/")
        || path.starts_with("/invite/")
}

pub async fn session_gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_static_path(&path) {
        return next.run(req).await;
    }
    let auth = match req.extensions().get::<Session>() {
        Some(session) => match sessions::resolve(session, &state).await {
            Ok(auth) => auth,
            Err(err) => return error_response(&err, wants_html(req.headers())),
        },
        None => None,
    };
    let signed_in = auth.is_some();
    req.extensions_mut().insert(CurrentAuth(auth));
    if path.starts_with("/api/") || is_public_page(&path) {
        if signed_in && path == "/sign-in" && req.method() == Method::GET {
            return Redirect::to("/overview").into_response();
        }
        return next.run(req).await;
    }
    if !signed_in {
        return if matches!(*req.method(), Method::GET | Method::HEAD) {
            Redirect::to("/sign-in").into_response()
        } else {
            error_response(&AppError::Unauthenticated, wants_html(req.headers()))
        };
    }
    next.run(req).await
}
