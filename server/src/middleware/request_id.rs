//! Every request gets an id: minted here (never taken from the client), returned in `X-Request-Id`, carried
//! by a tracing span around the whole request, and used as the operation id of any internal error it meets
//! (`app::backend::platform::ids::op_id`), so the "ref" a user reads is the id in the log and in the header.
//!
//! When the response head is ready the request is counted in the metrics (method, route template, status,
//! duration) and logs exactly one line in its span: route template, status, duration, and the tenant when a
//! session or an API key named one (`RequestFacts`, filled in by the layers that learn them). Nothing else
//! from the request is logged: no query string, no header, and the path with any link token masked.

use app::backend::platform::ids::{new_request_id, REQUEST_ID};
use app::backend::platform::metrics::Metrics;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument as _;

/// What inner layers learn about a request for its log line and metrics: the route template it matched (the
/// console is reached through a fallback, where the outer router matched nothing) and the tenant it acts in.
/// Shared by every clone of the request's extensions.
#[derive(Clone, Default)]
pub struct RequestFacts(Arc<Mutex<Facts>>);

#[derive(Default)]
struct Facts {
    route: Option<String>,
    tenant: Option<String>,
}

impl RequestFacts {
    fn set_route(&self, route: String) {
        if let Ok(mut f) = self.0.lock() {
            f.route = Some(route);
        }
    }

    /// The tenant a session or an API key resolved to (an id: never a name or an email).
    pub fn set_tenant(&self, tenant_id: &str) {
        if let Ok(mut f) = self.0.lock() {
            f.tenant = Some(tenant_id.to_owned());
        }
    }

    fn take(&self) -> (Option<String>, Option<String>) {
        self.0.lock().map(|mut f| (f.route.take(), f.tenant.take())).unwrap_or_default()
    }
}

/// A request from its arrival to its log line: its id, the facts inner layers learn, its span.
pub struct Tracked {
    started: Instant,
    id: String,
    method: &'static str,
    facts: RequestFacts,
    span: tracing::Span,
}

impl Tracked {
    /// Mints the request's id and opens its span; hands the facts to the layers inside.
    pub fn begin(req: &mut Request) -> Self {
        let started = Instant::now();
        let id = new_request_id();
        let method = method_label(req.method());
        let facts = RequestFacts::default();
        if let Some(matched) = req.extensions().get::<MatchedPath>() {
            facts.set_route(route_of(matched.as_str(), req.uri().path()));
        }
        req.extensions_mut().insert(facts.clone());
        let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %loggable(req.uri().path()));
        Self { started, id, method, facts, span }
    }

    /// Runs the rest of the request with its id in scope (`op_id`) and inside its span.
    pub async fn run<F: std::future::Future<Output = Response>>(&self, inner: F) -> Response {
        REQUEST_ID.scope(self.id.clone(), inner).instrument(self.span.clone()).await
    }

    /// Returns the id in `X-Request-Id`, counts the request and logs its one line.
    pub fn finish(self, metrics: &Metrics, res: &mut Response) {
        if let Ok(v) = HeaderValue::from_str(&self.id) {
            res.headers_mut().insert("x-request-id", v);
        }
        let elapsed = self.started.elapsed();
        let (route, tenant) = self.facts.take();
        let route = route.unwrap_or_else(|| "other".to_owned());
        let status = res.status().as_u16();
        metrics.http_request(self.method, &route, status, elapsed);
        // Milliseconds with microsecond precision.
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        self.span.in_scope(
            || tracing::info!(route = %route, status, duration_ms, tenant_id = tenant.as_deref(), "answered"),
        );
    }
}

/// Notes the route template a nested router (the console, behind the outer router's fallback) matched: called
/// by the console's first layer (`origin::console_entry`), where the route is known.
pub fn note_route(req: &Request) {
    if let (Some(matched), Some(facts)) =
        (req.extensions().get::<MatchedPath>(), req.extensions().get::<RequestFacts>())
    {
        facts.set_route(route_of(matched.as_str(), req.uri().path()));
    }
}

/// The route a request is counted under: the matched template; a server function (`/api/{*fn_name}`) by its
/// name when it is one the policy table lists (a closed set), else the template.
fn route_of(template: &str, path: &str) -> String {
    if template == "/api/{*fn_name}" {
        if let Some(f) = path.strip_prefix("/api/").and_then(app::policy::server_fn) {
            return format!("/api/{}", f.name);
        }
    }
    template.to_owned()
}

/// The method as a label: the standard ones, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Paths whose next segment is a bearer secret (a one-time link's token): logged as `…`.
const SECRET_SEGMENT_AFTER: [&str; 4] = ["/setup/", "/reset-password/", "/invite/", "/vault/links/"];

/// The path as the log may hold it: the token of a setup, reset, invitation or vault link never reaches a log.
pub(crate) fn loggable(path: &str) -> std::borrow::Cow<'_, str> {
    for prefix in SECRET_SEGMENT_AFTER {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}…{tail}").into();
        }
    }
    path.into()
}

#[cfg(test)]
mod tests {
    use super::{loggable, method_label, route_of};

    #[test]
    fn link_tokens_never_reach_the_log() {
        assert_eq!(loggable("/vault/links/z58tWrl_IdQMfQrq4M2B3"), "/vault/links/…");
        assert_eq!(loggable("/setup/abc/extra"), "/setup/…/extra");
        assert_eq!(loggable("/reset-password/t"), "/reset-password/…");
        assert_eq!(loggable("/invite/t"), "/invite/…");
        assert_eq!(loggable("/vault/files/123"), "/vault/files/123");
        assert_eq!(loggable("/api/v1/keys/abc/roll"), "/api/v1/keys/abc/roll");
    }

    #[test]
    fn routes_are_templates_or_known_server_functions() {
        assert_eq!(route_of("/api/v1/vault/files/{id}", "/api/v1/vault/files/42"), "/api/v1/vault/files/{id}");
        assert_eq!(route_of("/api/{*fn_name}", "/api/sign_in"), "/api/sign_in");
        assert_eq!(route_of("/api/{*fn_name}", "/api/no_such_fn_9f8e"), "/api/{*fn_name}");
        assert_eq!(route_of("/api/{*fn_name}", "/api/sign_in/extra"), "/api/{*fn_name}");
        assert_eq!(method_label(&axum::http::Method::from_bytes(b"BREW").unwrap_or_default()), "other");
    }
}
