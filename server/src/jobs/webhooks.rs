//! Sends the webhook deliveries that are due (`app::backend::webhooks::deliver`), every second, one instance at
//! a time.

use app::backend::webhooks::deliver::deliver_due;
use app::backend::AppState;
use std::time::Duration;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            match super::exclusive(&state.pool, &state.metrics, "webhooks", deliver_due(&state)).await {
                Ok(Some(n)) if n > 0 => tracing::debug!(deliveries = n, "webhook deliveries attempted"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "webhook delivery failed; will retry"),
            }
        }
    })
}
