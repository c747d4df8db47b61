//! The REST API, `/api/v1`: JSON over HTTPS for machines, authenticated by API keys only.
//!
//! - `Authorization: Bearer <key>`; session cookies are ignored here, and keys open no console page.
//! - Errors are `{"error": {"code", "message"}}`: 401 for a missing, malformed, unknown, expired, revoked,
//!   disabled or out-of-place key alike (the access history records which), 403 for a scope the key lacks,
//!   422 for bad input (unknown fields included), 413 past the body limit, 429 with `Retry-After`.
//! - Every request is recorded in the access history through the batched writer (`app::backend::audit::api_log`).
//! - The key's tenant's IP block list applies after the key is verified: 403 `ip_refused`, recorded with the
//!   block's reason. The tenant's console allow list does not apply here (keys have their own IP allow lists;
//!   see `app::backend::network::rules`).
//! - Every key of a tenant whose closure was requested is refused with 409 `conflict` and the closing date.
//! - CORS allows any origin without credentials: keys are bearer tokens, never ambient.
//! - The routes and the OpenAPI 3.1 document come from one list (`operations`); `openapi.rs` frames it.

pub mod access_history;
mod body;
pub mod exports;
pub mod keys;
pub mod machines;
pub mod members;
pub mod openapi;
pub mod vault;

use crate::errors::{error_response, refusal_response};
use crate::middleware::request_id::RequestFacts;
use app::backend::audit::api_log::ApiEvent;
use app::backend::audit::Outcome;
use app::backend::keys::verify::{self, ApiPrincipal, Presented};
use app::backend::network::rules;
use app::backend::platform::request::{ClientIp, RequestMeta};
use app::backend::AppState;
use app::model::AppError;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use body::read_limited;
pub use body::{whole, ApiJson, MAX_BODY};
use std::time::Instant;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every operation of `/api/v1`, from one list: `routes!` registers each handler under the path and methods
/// its `#[utoipa::path]` declares and adds that annotation to the document, so a route cannot exist without
/// its documentation (and the policy table's test compares the document with `app::policy::REST_ROUTES`).
fn operations() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(members::list_members))
        .routes(routes!(access_history::list_events))
        .routes(routes!(keys::list_keys, keys::create_key))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(keys::roll_key))
        .routes(routes!(vault::list_files, vault::upload_file))
        .routes(routes!(vault::get_file, vault::delete_file))
        .routes(routes!(vault::download_file))
        .routes(routes!(vault::undelete_file))
        .routes(routes!(vault::restore_version))
        .routes(routes!(vault::create_link))
        .routes(routes!(exports::start_export))
        .routes(routes!(exports::get_export))
        .routes(routes!(exports::download_export))
        .routes(routes!(machines::enrol_machine))
        .routes(routes!(machines::renew_machine))
}

/// The OpenAPI document of the operations, as served at `/api/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    openapi::complete(operations().into_openapi())
}

/// The `/api/v1` router (mounted with `nest`).
pub fn router(state: AppState) -> Router {
    let (operations, api) = operations().split_for_parts();
    // Built once; no key needed to read it: it describes, it does not disclose.
    let document: Bytes =
        serde_json::to_vec(&openapi::document_json(&openapi::complete(api))).unwrap_or_default().into();
    operations
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        // Explicit, so that no unknown /api/v1 path falls through to the console's server functions.
        .route("/{*rest}", axum::routing::any(|| async { ApiError(AppError::NotFound) }))
        .fallback(|| async { ApiError(AppError::NotFound) })
        .method_not_allowed_fallback(|| async { method_not_allowed() })
        .layer(axum::middleware::from_fn_with_state(state.clone(), api_gate))
        .with_state(state)
}

fn method_not_allowed() -> Response {
    let mut res = error_response(&AppError::validation("method", "This method is not allowed here."), false);
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    res
}

/// An error answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = error_response(&self.0, false);
        if self.0 == AppError::Forbidden {
            res.extensions_mut().insert(DenyReason("scope"));
        }
        res
    }
}

/// Why the handler refused, for the access history.
#[derive(Debug, Clone, Copy)]
struct DenyReason(&'static str);

/// Authenticates the key, answers CORS preflights, and records the request in the access history.
/// Records one event per address and minute for the unrecognised keys folded by `KeyGuard::note_unknown`
/// (run every minute by the alert job).
pub async fn record_unknown_key_summaries(state: &AppState) {
    let now = state.clock.now_ms();
    for s in state.key_guard.drain_unknown(now) {
        let detail = format!(
            "{} more request(s) with unrecognised or malformed keys from {} in the minute from {} ({} answered 429)",
            s.folded,
            s.ip,
            app::model::format_utc(s.minute_start_ms),
            s.throttled
        );
        let event = ApiEvent {
            tenant_id: None,
            key_id: None,
            generation: None,
            actor: "API key (not recognised)".to_owned(),
            action: "api.request",
            outcome: Outcome::Failure,
            ip: s.ip.to_string(),
            user_agent: String::new(),
            detail,
            at_ms: now,
            accepted: false,
        };
        state.api_log.record(event).await;
    }
}

/// The answer for a request `app::policy::REST_ROUTES` refuses: 404 for a path it does not list (the API's
/// own unknown-path answer), 405 with `Allow` for a method it does not list on a listed path, 403 for a key
/// without the route's scope or whose maker no longer holds its feature.
fn route_refusal(parts: &axum::http::request::Parts, principal: &ApiPrincipal) -> Option<Response> {
    let matched = parts.extensions.get::<axum::extract::MatchedPath>().map(|m| m.as_str()).unwrap_or_default();
    let Some(rule) = app::policy::rest_route(parts.method.as_str(), matched) else {
        let allowed: Vec<&str> =
            app::policy::REST_ROUTES.iter().filter(|r| r.matches(matched)).map(|r| r.method).collect();
        if allowed.is_empty() {
            return Some(ApiError(AppError::NotFound).into_response());
        }
        let mut res = method_not_allowed();
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            res.headers_mut().insert(header::ALLOW, v);
        }
        return Some(res);
    };
    let key_ok = match rule.key {
        app::policy::KeyNeeds::Scope(resource, level) => principal.allows(resource, level),
        app::policy::KeyNeeds::Master => principal.kind == app::model::KeyKind::Master,
        // Those routes never reach here: the gate hands them to their handlers, which check their credentials.
        app::policy::KeyNeeds::EnrolmentToken | app::policy::KeyNeeds::MachineCertificate => false,
    };
    (!key_ok || !principal.ctx.can(rule.feature)).then(|| ApiError(AppError::Forbidden).into_response())
}

async fn api_gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    if req.method() == Method::OPTIONS {
        return with_cors(StatusCode::NO_CONTENT.into_response(), true);
    }
    // The document's own path only: `/vault/files/openapi.json` is a file id, and must meet the key check.
    if matches!(req.uri().path(), "/openapi.json" | "/api/v1/openapi.json") {
        return with_cors(next.run(req).await, false);
    }
    // Enrolment and renewal carry their own credentials (a one-time token, the machine's certificate): the
    // policy table says which routes those are.
    let keyless = app::policy::REST_ROUTES.iter().any(|r| {
        r.matches(req.uri().path())
            && matches!(r.key, app::policy::KeyNeeds::EnrolmentToken | app::policy::KeyNeeds::MachineCertificate)
    });
    if keyless {
        if req.method() != Method::POST {
            let mut res = method_not_allowed();
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return with_cors(res, false);
        }
        return with_cors(next.run(req).await, false);
    }
    let method = req.method().clone();
    // Inside `nest` the URI lost its prefix; the access history records the path the client asked for.
    let uri =
        req.extensions().get::<axum::extract::OriginalUri>().map(|o| o.0.clone()).unwrap_or_else(|| req.uri().clone());
    let path = app::backend::platform::text::first_chars(uri.path(), 200);
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::from_parts(&parts);
    let ip = parts.extensions.get::<ClientIp>().map(|c| c.0).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let certificate = parts.extensions.get::<app::backend::machines::ClientCertificate>().map(|c| c.0.clone());
    let presented = Presented {
        authorization: header(header::AUTHORIZATION),
        ip,
        referer: header(header::REFERER),
        certificate: certificate.as_deref(),
    };
    let verdict = verify::verify(&state, &presented).await;
    if let (Some(t), Some(facts)) = (verify::tenant_of(&verdict), parts.extensions.get::<RequestFacts>()) {
        facts.set_tenant(t.as_str());
    }
    let now = state.clock.now_ms();
    let elapsed = |started: Instant| started.elapsed().as_millis();
    match verdict {
        Ok(principal) => {
            // Shared with the handler, not copied: its context holds a dozen strings.
            let principal = std::sync::Arc::new(principal);
            let refusal = match rules::check_api(&state, principal.ctx.tenant_id(), ip).await {
                Ok(r) => r,
                Err(err) => return with_cors(error_response(&err, false), false),
            };
            if let Some(refusal) = refusal {
                let res = refusal_response(&refusal.message(ip), false);
                let event = ApiEvent {
                    tenant_id: Some(principal.ctx.tenant_id().clone()),
                    key_id: Some(principal.key_id.clone()),
                    generation: Some(principal.generation),
                    actor: principal.ctx.actor().to_owned(),
                    action: "api.request",
                    outcome: Outcome::Failure,
                    ip: meta.ip.clone(),
                    user_agent: meta.user_agent.clone(),
                    detail: format!(
                        "{method} {path} → 403 (ip_blocked: {}, {} ms)",
                        refusal.detail(ip),
                        elapsed(started)
                    ),
                    at_ms: now,
                    accepted: false,
                };
                state.api_log.record(event).await;
                return with_cors(res, false);
            }
            // The policy table's rule for this route, before any handler: no rule, no entry.
            let res = match route_refusal(&parts, &principal) {
                Some(refusal) => refusal,
                None => {
                    req = Request::from_parts(parts, body);
                    req.extensions_mut().insert(principal.clone());
                    req.extensions_mut().insert(meta.clone());
                    next.run(req).await
                }
            };
            let status = res.status();
            let mut reason = res.extensions().get::<DenyReason>().map(|r| format!(", {}", r.0)).unwrap_or_default();
            if let Some(machine) = &principal.machine {
                reason.push_str(&format!(", machine “{}”", machine.name));
            }
            let event = ApiEvent {
                tenant_id: Some(principal.ctx.tenant_id().clone()),
                key_id: Some(principal.key_id.clone()),
                generation: Some(principal.generation),
                actor: principal.ctx.actor().to_owned(),
                action: "api.request",
                outcome: if status.is_success() || status.is_redirection() {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
                ip: meta.ip.clone(),
                user_agent: meta.user_agent.clone(),
                detail: format!("{method} {path} → {}{reason} ({} ms)", status.as_u16(), elapsed(started)),
                at_ms: now,
                accepted: true,
            };
            state.api_log.record(event).await;
            with_cors(res, false)
        }
        Err(denial) => {
            // Unrecognised and malformed keys: counted per address, recorded once a minute (the rest folded
            // into one summary event), and answered 429 past the limit.
            let unknown = matches!(denial.reason, "unknown" | "malformed" | "missing" | "wrong_secret")
                .then(|| verify::note_unknown(&state, ip, now, denial.reason != "missing"));
            if let Some(verdict) = unknown {
                if verdict != verify::UnknownKey::First {
                    let err = match verdict {
                        verify::UnknownKey::Throttled { retry_after } => AppError::RateLimited { retry_after },
                        _ => AppError::Unauthenticated,
                    };
                    return with_cors(error_response(&err, false), false);
                }
            }
            let err = match denial.retry_after {
                Some(retry_after) => AppError::RateLimited { retry_after },
                None if denial.reason == "unavailable" => AppError::Unavailable,
                // A closing tenant's keys are genuine: the caller is told why (409), not sent to check its key.
                None if denial.reason == "tenant_closing" => match denial.key.as_ref().and_then(|k| k.closes_at) {
                    Some(at) => app::backend::access::closing_error(at),
                    None => AppError::Unauthenticated,
                },
                None => AppError::Unauthenticated,
            };
            let res = error_response(&err, false);
            let canary = denial.reason == "canary";
            let (tenant_id, key_id, actor) = match &denial.key {
                Some(k) => (
                    Some(k.tenant_id.clone()),
                    Some(k.id.clone()),
                    format!("API key {}", k.prefix_of(denial.generation.unwrap_or_default())),
                ),
                None => (None, None, "API key (not recognised)".to_owned()),
            };
            let detail = if canary {
                format!("severity high: canary key used; {method} {path} refused ({} ms)", elapsed(started))
            } else {
                format!("{method} {path} → {} ({}, {} ms)", res.status().as_u16(), denial.reason, elapsed(started))
            };
            let event = ApiEvent {
                tenant_id,
                key_id,
                generation: denial.generation,
                actor,
                action: if canary {
                    "key.canary_used"
                } else if denial.reason.starts_with("machine_") {
                    "machine.refused"
                } else if denial.reason == "wrong_secret" {
                    "key.auth_failed"
                } else {
                    "api.request"
                },
                outcome: Outcome::Failure,
                ip: meta.ip.clone(),
                user_agent: meta.user_agent.clone(),
                detail,
                at_ms: now,
                accepted: false,
            };
            state.api_log.record(event).await;
            if let (true, Some(key)) = (canary, denial.key) {
                if state.key_guard.canary_email_due(&state.pool, &key.id, now).await {
                    let state = state.clone();
                    tokio::spawn(async move { verify::alert_canary(&state, &key, &meta).await });
                }
            }
            with_cors(res, false)
        }
    }
}

fn with_cors(mut res: Response, preflight: bool) -> Response {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if preflight {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    } else {
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("retry-after"));
    }
    res
}
