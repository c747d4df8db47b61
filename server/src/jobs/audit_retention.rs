//! Purges access-history events past each tenant's retention, hourly (and once shortly after start).

use app::backend::audit::retention::purge_all;
use app::backend::AppState;
use std::time::Duration;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let purge = purge_all(&state.pool, &state.keys, state.clock.now_ms());
            match super::exclusive(&state.pool, &state.metrics, "audit_retention", purge).await {
                Ok(Some(s)) if s.deleted > 0 => tracing::info!(deleted = s.deleted, "access-history retention purge"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "access-history retention purge failed; will retry"),
            }
        }
    })
}
