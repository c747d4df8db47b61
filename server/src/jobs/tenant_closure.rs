//! Deletes the tenants whose closure cooling-off has ended, every ten minutes and once at start-up (the first
//! tick fires at once). Time comes from the state's clock; tests call `close_due` directly.

use app::backend::organisation::closure::delete::close_due;
use app::backend::AppState;
use std::time::Duration;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match super::exclusive(&state.pool, &state.metrics, "tenant_closure", close_due(&state)).await {
                Ok(closed) => {
                    for c in closed.unwrap_or_default() {
                        tracing::warn!(tenant = %c.tenant_id, rows = c.rows, "closed tenant deleted");
                    }
                }
                Err(err) => tracing::warn!(error = %err, "tenant closure failed; will retry"),
            }
        }
    })
}
