//! The front of every request, in one layer (one boxed future per request instead of six), in this order:
//! the request id and its span (`request_id`), the error report scope (`error_report`), the security headers
//! (`headers`), the access epoch (`access_epoch`), the client IP (`client_ip`) and the automatic IP blocks
//! (`ip_block`). Each part's rule lives in its own module; this only strings them together. A refusal of a
//! blocked address and a panic's 500 get the same headers, id, count and log line as any other answer.

use super::{access_epoch, client_ip, error_report, headers, ip_block, request_id::Tracked};
use crate::errors::wants_html;
use crate::middleware::client_ip::TrustedProxies;
use app::backend::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// What the front needs: the domain and the proxies whose forwarding headers are believed.
#[derive(Clone)]
pub struct Front(Arc<(AppState, TrustedProxies)>);

impl Front {
    pub fn new(app: AppState, proxies: TrustedProxies) -> Self {
        Self(Arc::new((app, proxies)))
    }
}

pub async fn front(State(Front(state)): State<Front>, mut req: Request, next: Next) -> Response {
    let (app, proxies) = &*state;
    let tracked = Tracked::begin(&mut req);
    let mut res = tracked.run(guarded(app, proxies, req, next)).await;
    tracked.finish(&app.metrics, &mut res);
    res
}

async fn guarded(app: &AppState, proxies: &TrustedProxies, mut req: Request, next: Next) -> Response {
    let html = wants_html(req.headers());
    let scope = error_report::scope_for(app, &req);
    let headers = headers::Pending::begin(&mut req);
    let changes = access_epoch::changes_state(req.method());
    client_ip::resolve(proxies, &mut req);
    let serve = async {
        match ip_block::refusal(app, ip_block::checked_ip(&req), html).await {
            Some(refused) => refused,
            None => next.run(req).await,
        }
    };
    let mut res = scope.clone().run(error_report::caught(&scope, html, serve)).await;
    access_epoch::after(app, changes, res.status());
    headers.apply(&mut res);
    res
}
