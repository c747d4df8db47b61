//! Server functions, one file per concept. Each is a thin adapter: get the context, call one backend function,
//! return a view type. No SQL and no rules here.

pub mod approvals;
pub mod audit;
pub mod auth;
pub mod closure;
pub mod export;
pub mod invitations;
pub mod ip_rules;
pub mod keys;
pub mod machines;
pub mod members;
pub mod overview;
pub mod panic;
pub mod security;
pub mod sessions;
pub mod ssh;
pub mod support;
pub mod two_factor;
pub mod vault;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    //! The one way a server function reaches the request, the state and the tenant context.

    use crate::backend::access::{CurrentAuth, TenantCtx};
    use crate::backend::platform::request::RequestMeta;
    use crate::backend::AppState;
    use crate::model::AppError;
    use http::request::Parts;
    use leptos::prelude::use_context;

    #[track_caller]
    fn internal(what: &str) -> AppError {
        crate::backend::platform::failure::internal("server function context", format!("missing: {what}"))
    }

    /// Runs a page's read recording what it takes from the epoch caches, when the server may keep the page
    /// (`server::middleware::page_memo` put a `RenderReads` in the request); otherwise just runs it.
    pub async fn recorded<T>(read: impl std::future::Future<Output = T>) -> T {
        use crate::backend::access::epoch::RenderReads;
        match use_context::<Parts>().and_then(|p| p.extensions.get::<std::sync::Arc<RenderReads>>().cloned()) {
            Some(reads) => RenderReads::scope(reads, read).await,
            None => read.await,
        }
    }

    pub fn state() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| internal("state"))
    }

    pub fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>().ok_or_else(|| internal("request parts"))
    }

    pub fn meta() -> Result<RequestMeta, AppError> {
        Ok(RequestMeta::from_parts(&parts()?))
    }

    /// The client address as the server's middleware established it.
    pub fn client_ip() -> Result<std::net::IpAddr, AppError> {
        parts()?
            .extensions
            .get::<crate::backend::platform::request::ClientIp>()
            .map(|c| c.0)
            .ok_or_else(|| internal("client ip"))
    }

    pub fn session() -> Result<tower_sessions::Session, AppError> {
        parts()?.extensions.get::<tower_sessions::Session>().cloned().ok_or_else(|| internal("session"))
    }

    /// The device cookie this browser sent, if any.
    pub fn device_cookie() -> Option<String> {
        parts().ok().and_then(|p| crate::backend::identity::throttle::devices::device_cookie(&p.headers))
    }

    /// After a full sign-in: remembers this device and IP (a new-device alert when neither is known) and gives
    /// the browser a device cookie if it has none. A failure here is logged: the sign-in itself stands.
    pub async fn remember_device(st: &AppState, ctx: &TenantCtx, meta: &RequestMeta) {
        use crate::backend::identity::throttle::devices;
        match devices::remember(st, ctx, device_cookie().as_deref(), meta).await {
            Ok(Some(token)) => {
                let res = use_context::<leptos_axum::ResponseOptions>();
                if let (Some(res), Ok(v)) = (res, http::HeaderValue::from_str(&devices::set_cookie_value(&token))) {
                    res.append_header(http::header::SET_COOKIE, v);
                }
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "known device not recorded"),
        }
    }

    /// The signed-in tenant context, as the auth middleware resolved it for this request. While the tenant is
    /// closing this refuses (deny by default): only the few functions that use `tenant_ctx_while_closing` work.
    pub fn tenant_ctx() -> Result<TenantCtx, AppError> {
        let ctx = tenant_ctx_while_closing()?;
        match ctx.closing_refusal() {
            Some(refusal) => Err(refusal),
            None => Ok(ctx),
        }
    }

    /// The tenant context even while the tenant is closing: for the closure page and its cancel, who-am-I and
    /// signing out, and nothing else.
    pub fn tenant_ctx_while_closing() -> Result<TenantCtx, AppError> {
        parts()?.extensions.get::<CurrentAuth>().and_then(|a| a.0.clone()).ok_or(AppError::Unauthenticated)
    }

    /// The half-signed-in state of this browser (password accepted, second factor or enrollment outstanding).
    pub async fn pending() -> Result<Option<crate::backend::identity::sessions::PendingSignIn>, AppError> {
        let now = state()?.clock.now_ms();
        crate::backend::identity::sessions::pending(&session()?, now).await
    }

    /// Who may enroll an authenticator now: a signed-in member, or a browser that the tenant policy (or an
    /// admin's reset) sent to enrollment after its password. The flag says which.
    pub async fn enrollment_actor() -> Result<(TenantCtx, bool), AppError> {
        if let Ok(ctx) = tenant_ctx() {
            return Ok((ctx, false));
        }
        match pending().await? {
            Some(p) if p.stage == crate::backend::identity::sessions::PendingStage::Enroll => Ok((p.ctx, true)),
            _ => Err(AppError::Unauthenticated),
        }
    }

    /// The features ticked in a form's `grant_*` checkboxes, given in `Permission::ALL` order.
    pub fn ticked_grants(ticked: [Option<String>; 8]) -> Vec<crate::model::Permission> {
        crate::model::Permission::ALL.into_iter().zip(ticked).filter(|(_, v)| v.is_some()).map(|(p, _)| p).collect()
    }

    /// A path inside the console to go back to after a step-up; anything else becomes the security page.
    pub fn local_path(next: &str) -> String {
        let ok = next.starts_with('/')
            && !next.starts_with("//")
            && !next.contains('\\')
            && next.len() <= 512
            && next.chars().all(|c| c.is_ascii_graphic());
        if ok {
            next.to_owned()
        } else {
            "/security".to_owned()
        }
    }

    /// Gives an error its HTTP status, unless the call is a plain no-JS form post: that one must stay a
    /// redirect back to the form, which then shows the error.
    pub fn finish<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(err) = &result {
            let html_form = parts()
                .ok()
                .and_then(|p| p.headers.get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_owned))
                .is_some_and(|a| a.contains("text/html"));
            if !html_form {
                if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                    res.set_status(
                        http::StatusCode::from_u16(err.status_code())
                            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                    );
                    if let Some(v) = err.retry_after().and_then(|s| http::HeaderValue::from_str(&s.to_string()).ok()) {
                        res.insert_header(http::header::RETRY_AFTER, v);
                    }
                }
            }
        }
        result
    }
}
