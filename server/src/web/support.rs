//! `GET /support/{token}`: a platform operator opens the one-time link of an approved support request
//! (`rampart support open`) and this browser gets a read-only support session of that organisation.

use crate::errors::{error_response, wants_html};
use app::backend::platform::request::RequestMeta;
use app::backend::{identity::sessions, support, AppState};
use app::model::AppError;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse as _, Redirect, Response};
use tower_sessions::Session;

pub async fn open(State(state): State<AppState>, Path(token): Path<String>, req: Request) -> Response {
    // A HEAD (a link checker) neither opens the session nor spends the link.
    if req.method() == axum::http::Method::HEAD {
        return crate::web::untouched_head();
    }
    let html = wants_html(req.headers());
    let meta = RequestMeta::of(req.extensions(), req.headers());
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return error_response(&AppError::Unavailable, html);
    };
    let ctx = match support::session::start(&state, &token, &meta).await {
        Ok(ctx) => ctx,
        Err(err) => return error_response(&err, html),
    };
    if let Err(err) = sessions::establish(&session, ctx, state.clock.now_ms(), &meta).await {
        return error_response(&err, html);
    }
    Redirect::to("/overview").into_response()
}
