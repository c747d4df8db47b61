//! The session gate: resolves the signed-in tenant context once per request (`CurrentAuth` in the request
//! extensions, read by server functions and pages) and denies by default: every page except the public ones
//! below redirects a signed-out browser to sign in. Server functions (`/api/…`) enforce their own context.
//! Every request carrying a session of a tenant, server functions included, is first held against that
//! tenant's network rules (`app::backend::network::rules`): a blocked or not-allowed address gets a 403 that speaks
//! of its own address only. While the tenant is closing, every console page but the closure page sends its
//! members there (other requests get 409); its server functions refuse through `api::ssr::tenant_ctx`.

use super::headers::is_static_path;
use super::page_memo::{self, PageMemo};
use super::request_id::RequestFacts;
use crate::errors::{error_response, refusal_response, wants_html};
use app::backend::access::{CurrentAuth, TenantCtx};
use app::backend::network::rules;
use app::backend::platform::request::{ClientIp, RequestMeta};
use app::backend::{identity::sessions, AppState};
use app::model::AppError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Redirect, Response};
use std::net::IpAddr;
use tower_sessions::Session;

/// The one page a closing tenant's members reach.
pub const CLOSURE_PAGE: &str = "/organisation/closure";

/// Pages anyone may see. The second-factor and enrollment pages are here because a half-signed-in browser
/// (password accepted, no session yet) must reach them; their server functions check that state themselves.
fn is_public_page(path: &str) -> bool {
    matches!(path, "/sign-in" | "/healthz" | "/sign-in/two-factor" | "/two-factor/setup" | "/forgot-password")
        || path.starts_with("/setup/")
        || path.starts_with("/reset-password/")
        || path.starts_with("/invite/")
        || path.starts_with("/support/")
}

/// What the gate needs: the domain, and the kept pages it serves from once it has let a request through.
#[derive(Clone)]
pub struct Gate {
    pub app: AppState,
    pub memo: PageMemo,
}

/// The gate and, behind it, the kept pages (`page_memo`): one layer, one boxed future per request.
pub async fn session_gate(State(Gate { app, memo }): State<Gate>, mut req: Request, next: Next) -> Response {
    let state = &app;
    let pass = |req: Request| page_memo::serve(&memo, &app.metrics, req, next);
    let path = req.uri().path().to_owned();
    if is_static_path(&path) {
        return pass(req).await;
    }
    let auth = match req.extensions().get::<Session>() {
        Some(session) => match sessions::resolve(session, state).await {
            Ok(auth) => auth,
            Err(err) => return error_response(&err, wants_html(req.headers())),
        },
        None => None,
    };
    if let (Some(ctx), Some(facts)) = (&auth, req.extensions().get::<RequestFacts>()) {
        facts.set_tenant(ctx.tenant_id().as_str());
    }
    if let (Some(ctx), Some(ClientIp(ip))) = (&auth, req.extensions().get::<ClientIp>().copied()) {
        let (html, meta) = (wants_html(req.headers()), RequestMeta::of(req.extensions(), req.headers()));
        if let Some(res) = refuse(state, ctx, ip, html, &meta).await {
            return res;
        }
    }
    if let Some(closes_at) = auth.as_ref().and_then(|c| c.closes_at()) {
        if !path.starts_with("/api/") && !is_public_page(&path) && path != CLOSURE_PAGE {
            return if matches!(*req.method(), Method::GET | Method::HEAD) {
                Redirect::to(CLOSURE_PAGE).into_response()
            } else {
                error_response(&app::backend::access::closing_error(closes_at), wants_html(req.headers()))
            };
        }
    }
    if let Some(request) = auth.as_ref().and_then(|c| c.support_request().map(str::to_owned)) {
        let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
        let (html, meta) = (wants_html(req.headers()), RequestMeta::of(req.extensions(), req.headers()));
        if let Some(res) = support_guard(state, auth.as_ref(), &request, (is_get, html, &meta), &path).await {
            return res;
        }
    }
    let signed_in = auth.is_some();
    req.extensions_mut().insert(CurrentAuth(auth));
    if path.starts_with("/api/") || is_public_page(&path) {
        if signed_in && path == "/sign-in" && req.method() == Method::GET {
            return Redirect::to("/overview").into_response();
        }
        return pass(req).await;
    }
    if !signed_in {
        return if matches!(*req.method(), Method::GET | Method::HEAD) {
            Redirect::to("/sign-in").into_response()
        } else {
            error_response(&AppError::Unauthenticated, wants_html(req.headers()))
        };
    }
    pass(req).await
}

/// A support session reads and nothing else: GET pages (the vault's and the exports' only when the owner
/// included them; each page viewed is recorded) and the server functions of `policy::SUPPORT_READS`. Anything
/// else is refused (403) before it runs.
async fn support_guard(
    state: &AppState,
    ctx: Option<&TenantCtx>,
    request: &str,
    (is_get, html, meta): (bool, bool, &RequestMeta),
    path: &str,
) -> Option<Response> {
    use app::policy::SupportNeeds;
    let ctx = ctx?;
    let reach = match app::backend::support::session::reach(state, request).await {
        Ok(Some(r)) => r,
        Ok(None) => return Some(error_response(&AppError::Unauthenticated, html)),
        Err(err) => return Some(error_response(&err, html)),
    };
    let needs = match path.strip_prefix("/api/") {
        Some(name) => match app::policy::support_read(name) {
            Some(needs) => needs,
            None if name == "sign_out" => SupportNeeds::Console,
            None => return Some(error_response(&AppError::Forbidden, html)),
        },
        None if is_get => app::policy::support_page(path),
        None => return Some(error_response(&AppError::Forbidden, html)),
    };
    let allowed = match needs {
        SupportNeeds::Console => true,
        SupportNeeds::Vault => reach.vault,
        SupportNeeds::Exports => reach.exports,
    };
    if !allowed {
        return Some(error_response(&AppError::Forbidden, html));
    }
    if !path.starts_with("/api/") {
        if let Err(err) = app::backend::support::session::viewed(state, ctx, meta, path).await {
            return Some(error_response(&err, html));
        }
    }
    None
}

/// The 403 for a request the tenant's network rules refuse (recorded at most once a minute per address), or
/// `None`. When the rules cannot be read the request is refused as unavailable rather than let through.
async fn refuse(state: &AppState, ctx: &TenantCtx, ip: IpAddr, html: bool, meta: &RequestMeta) -> Option<Response> {
    match rules::check_console(state, ctx.tenant_id(), ip).await {
        Ok(None) => None,
        Ok(Some(refusal)) => {
            if let Err(err) = rules::record_console_refusal(state, ctx, meta, ip, &refusal).await {
                tracing::warn!(error = %err, "could not record a refused console request");
            }
            Some(refusal_response(&refusal.message(ip), html))
        }
        Err(err) => Some(error_response(&err, html)),
    }
}
