//! Appends the access-history heads that moved to the anchor log outside the database, every minute
//! (`app::backend::audit::anchor`).

use app::backend::AppState;
use std::time::Duration;

const TICK: Duration = Duration::from_secs(60);

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            let write = state.anchors.write_due(&state.pool, &state.keys, state.clock.now_ms());
            if let Err(err) = super::observed(&state.metrics, "audit_anchor", write).await {
                tracing::warn!(error = %err, "access-history anchors not written; will retry");
            }
        }
    })
}
