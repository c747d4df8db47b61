//! Builds data exports: a worker pass at start-up (restarting any export a previous run left half-built), then
//! whenever a request wakes it, and every few seconds regardless (exports queued by another instance, expiry of
//! ready ones after 24 hours, exports whose worker elsewhere stopped). The pass itself is
//! `app::backend::export::job::run_pending`.

use app::backend::export::job::run_pending;
use app::backend::AppState;
use std::time::Duration;

/// The longest a queued export waits when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(5);

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match super::observed(&state.metrics, "data_export", run_pending(&state)).await {
                Ok(n) if n > 0 => tracing::info!(exports = n, "data exports built"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "data export pass failed; will retry"),
            }
            tokio::select! {
                () = state.exports.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}
