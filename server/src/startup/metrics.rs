//! The metrics listener: `GET /metrics` in the Prometheus text format (0.0.4), on its own address
//! (`metrics_addr`, loopback unless `metrics_public`), plain HTTP, nothing else. The console's listener never
//! serves it. What is measured and how it is named lives in `app::backend::platform::metrics`; the gauges of
//! pools and queues are read here, at scrape time.

use app::backend::platform::metrics::{Metrics, Sample};
use app::backend::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use axum::Router;
use std::time::Duration;

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The metrics listener's router: `/metrics`, and 404 for anything else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).fallback(|| async { StatusCode::NOT_FOUND }).with_state(state)
}

async fn scrape(State(state): State<AppState>) -> Response {
    let now = state.clock.now_ms();
    state.metrics.sample(&Sample {
        pool_connections: state.pool.size(),
        pool_idle: state.pool.num_idle(),
        pool_max: state.pool.options().get_max_connections(),
        hash_queue: state.hasher.queue_depth(),
        hash_in_progress: state.hasher.in_progress(),
        api_log_queue: state.api_log.queued(),
        ip_blocks_active: state.ip_guard.active_blocks(now),
    });
    match state.metrics.render() {
        Some(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Runs the recorder's upkeep every few seconds (so histogram samples do not pile up between scrapes); ends
/// with the server's jobs.
pub fn spawn_upkeep(metrics: Metrics) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            metrics.upkeep();
        }
    })
}
