//! `GET /access-history/export?format=csv|json&<filters>`: the console's export of the filtered access
//! history (signed-in members with the access-history feature), streamed from a database cursor through a
//! bounded channel: constant memory at any size. `X-Rampart-Rows` announces the count first (the progress
//! bar's total). A database failure midway aborts the response, so a client never mistakes a cut file for a
//! whole one.

use app::backend::access::CurrentAuth;
use app::backend::audit::export::{self, Format};
use app::backend::audit::history::{begin_export, FilterForm};
use app::backend::platform::request::RequestMeta;
use app::backend::AppState;
use app::model::AppError;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

/// The query string: the page's filter fields plus the format.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: String,
    #[serde(flatten)]
    filter: FilterForm,
}

pub async fn export_history(
    State(state): State<AppState>,
    Extension(auth): Extension<CurrentAuth>,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    let html = crate::errors::wants_html(req.headers());
    let meta = RequestMeta::of(req.extensions(), req.headers());
    match export(state, auth, query, meta).await {
        Ok(res) => res,
        Err(e) => crate::errors::error_response(&e, html),
    }
}

async fn export(
    state: AppState,
    auth: CurrentAuth,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
    meta: RequestMeta,
) -> Result<Response, AppError> {
    let ctx = auth.0.ok_or(AppError::Unauthenticated)?;
    let granted = ctx.require::<app::backend::access::perm::AccessHistory>()?;
    let Query(q) = query.map_err(|e| AppError::validation("query", e.body_text()))?;
    let format = Format::parse(&q.format).ok_or_else(|| AppError::validation("format", "Choose csv or json."))?;
    let (filter, rows) = begin_export(&state, &ctx, &granted, &meta, &q.filter, format).await?;
    let now = state.clock.now_ms();
    // The chain's head at the start of the export: a copy of it the tenant keeps outside Rampart.
    let (head_seq, head_mac) = app::backend::audit::chain::current_head(&state.pool, ctx.tenant_id().as_str()).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let (fail_tx, fail_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        if let Err(e) = export::stream(&state.pool, &ctx, &granted, &filter, format, now, tx).await {
            tracing::error!(error = %e, "access-history export failed midway");
            let _ = fail_tx.send(());
        }
    });
    // Chunks until the channel closes; then, if the writer failed, an error that aborts the response.
    let body = futures_util::stream::unfold((rx, Some(fail_rx)), |(mut rx, fail)| async move {
        match rx.recv().await {
            Some(chunk) => Some((Ok(axum::body::Bytes::from(chunk)), (rx, fail))),
            None => match fail {
                Some(f) => match f.await {
                    Ok(()) => Some((Err(std::io::Error::other("export interrupted")), (rx, None))),
                    Err(_) => None,
                },
                None => None,
            },
        }
    });
    // Fused: the HTTP/2 writer may poll a body again after its end.
    let body = futures_util::StreamExt::fuse(body);
    let day = app::model::format_rfc3339(now).get(..10).unwrap_or("export").to_owned();
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let disposition = format!("attachment; filename=\"access-history-{day}.{}\"", format.extension());
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&rows.to_string()) {
        h.insert("x-rampart-rows", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("seq={head_seq}; mac={head_mac}")) {
        h.insert("x-rampart-chain-head", v);
    }
    Ok(res)
}
