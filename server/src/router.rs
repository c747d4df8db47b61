//! The HTTP surface: Leptos pages and server functions, static files, health, and the middleware stack.

use crate::middleware::client_ip::TrustedProxies;
use crate::middleware::gate::{session_gate, Gate};
use crate::middleware::origin::{console_entry, AllowedOrigin};
use app::backend::identity::sessions::SqlSessionStore;
use app::backend::AppState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes as _};
use tower::ServiceExt as _;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// The session cookie. `__Host-` binds it to this exact origin over HTTPS with `Path=/` (RFC 6265bis).
pub const SESSION_COOKIE: &str = "__Host-rampart";

/// Largest request body the console accepts (forms are tiny; uploads get their own limit later).
const MAX_BODY: usize = 64 * 1024;

/// Axum state: the domain plus what only the web layer needs, behind one `Arc` (it is cloned per request).
#[derive(Clone)]
pub struct WebState(std::sync::Arc<WebParts>);

impl WebState {
    pub fn new(parts: WebParts) -> Self {
        Self(std::sync::Arc::new(parts))
    }
}

impl std::ops::Deref for WebState {
    type Target = WebParts;
    fn deref(&self) -> &WebParts {
        &self.0
    }
}

impl axum::extract::FromRef<WebState> for AppState {
    fn from_ref(state: &WebState) -> Self {
        state.app.clone()
    }
}

impl axum::extract::FromRef<WebState> for LeptosOptions {
    fn from_ref(state: &WebState) -> Self {
        state.leptos.clone()
    }
}

/// The parts of `WebState`.
pub struct WebParts {
    pub app: AppState,
    pub leptos: LeptosOptions,
    pub proxies: TrustedProxies,
    pub origin: AllowedOrigin,
    pub assets: crate::web::assets::Assets,
}

/// `GET /readyz`: 200 when the database answers within two seconds, 503 otherwise (for a load balancer's
/// readiness check; `/healthz` stays a liveness probe that touches nothing). The body's second line is the age
/// of the last good backup, for the operator.
async fn readyz(State(state): State<AppState>) -> Response {
    let probe = crate::backup::last_good(&state.pool);
    match tokio::time::timeout(std::time::Duration::from_secs(2), probe).await {
        Ok(Ok(last)) => {
            let backup = match last {
                Some((at, _)) => format!("last backup: {} ago", crate::backup::age((state.clock.now_ms() - at).max(0))),
                None => "last backup: none".to_owned(),
            };
            (StatusCode::OK, format!("ready\n{backup}\n")).into_response()
        }
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// Builds the complete router.
pub fn build(state: WebState) -> Router {
    let routes = generate_route_list(App);
    let ctx_state = state.app.clone();
    let page_ctx = move || provide_context(ctx_state.clone());
    let fn_state = state.app.clone();
    let server_fns = move |req: Request| {
        let s = fn_state.clone();
        async move { handle_server_fns_with_context(move || provide_context(s.clone()), req).await }
    };
    let idle = time::Duration::milliseconds(state.app.timeouts.idle_ms);
    let sessions = SessionManagerLayer::new(
        SqlSessionStore::new(state.app.pool.clone(), state.app.clock.clone())
            .with_cache(state.app.session_cache.clone()),
    )
    .with_name(SESSION_COOKIE)
    .with_secure(true)
    .with_http_only(true)
    .with_same_site(SameSite::Strict)
    .with_path("/")
    .with_expiry(Expiry::OnInactivity(idle));
    let leptos = state.leptos.clone();
    let memo = crate::middleware::page_memo::PageMemo::default();
    let api = crate::rest::router(state.app.clone());
    let console = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/access-history/export", get(crate::web::history_export::export_history))
        .route("/api/{*fn_name}", get(server_fns.clone()).post(server_fns))
        .leptos_routes_with_context(&state, routes, page_ctx, move || shell(leptos.clone()))
        .route("/vault/files/{id}/download", get(crate::web::vault::download))
        .route("/data-export/{id}/download", get(crate::web::export::download))
        .route("/support/{token}", get(crate::web::support::open))
        .fallback(static_or_not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        // Added after the body limit, so only the vault's per-file limit bounds uploads; axum's own 2 MiB default
        // for extractors is lifted too (the form's text fields have their own small limit).
        .route(
            "/vault/upload",
            axum::routing::post(crate::web::vault::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .layer(axum::middleware::from_fn(server_fn_error_status))
        // The gate, and behind it the kept pages: one served only to a request the gate has just let through.
        .layer(axum::middleware::from_fn_with_state(Gate { app: state.app.clone(), memo }, session_gate))
        .layer(sessions)
        // The route noted for the request's log line, then cross-origin state changes refused.
        .layer(axum::middleware::from_fn_with_state(state.origin.clone(), console_entry))
        .with_state(state.clone());
    // The REST API sits beside the console, outside its session, gate and same-origin layers: keys, not
    // cookies, authenticate it.
    Router::new()
        .nest("/api/v1", api)
        .route("/vault/links/{token}", get(crate::web::vault::follow_link).with_state(state.app.clone()))
        .route("/readyz", get(readyz).with_state(state.app.clone()))
        .route("/pkg/{fingerprint}/{*file}", get(crate::web::assets::serve).with_state(state.assets.clone()))
        // The metrics have their own listener (`metrics_addr`); here the path is plainly absent, signed in or not.
        .route("/metrics", axum::routing::any(|| async { StatusCode::NOT_FOUND }))
        .route("/.well-known/rampart-export-key", get(crate::web::export::public_key).with_state(state.app.clone()))
        .fallback(move |req: Request| console.clone().oneshot(req))
        // Request id, error reports, security headers, access epoch, client IP, IP blocks: one layer.
        .layer(axum::middleware::from_fn_with_state(
            crate::middleware::front::Front::new(state.app.clone(), state.proxies.clone()),
            crate::middleware::front::front,
        ))
}

/// Errors raised before a server function runs (a missing or malformed argument) come back from the
/// framework as 500 with the encoded `AppError`; this gives them the status that error maps to (422 for bad
/// input), the same one the function itself would have set.
async fn server_fn_error_status(req: Request, next: axum::middleware::Next) -> Response {
    let is_fn = req.uri().path().starts_with("/api/");
    let res = next.run(req).await;
    if !is_fn || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(err) = serde_json::from_slice::<app::model::AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.status_code()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Serves a file of the built site, or renders the 404 page.
async fn static_or_not_found(State(state): State<WebState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let file_req = Request::from_parts(parts.clone(), Body::empty());
    let root = state.leptos.site_root.to_string();
    let res = ServeDir::new(root).oneshot(file_req).await.unwrap_or_else(|never| match never {});
    if res.status() != StatusCode::NOT_FOUND {
        return res.into_response();
    }
    let app_state = state.app.clone();
    let leptos = state.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        move || provide_context(app_state.clone()),
        move || shell(leptos.clone()),
    );
    let mut res = handler(Request::from_parts(parts, Body::empty())).await.into_response();
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}
