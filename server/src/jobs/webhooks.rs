//! Sends the webhook deliveries that are due (`app::backend::webhooks::deliver`), every second, on every
//! instance: the endpoints' leases (`webhooks::claim`) keep one worker per endpoint.

use app::backend::webhooks::deliver::deliver_due;
use app::backend::AppState;
use std::time::Duration;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match super::observed(&state.metrics, "webhooks", deliver_due(&state)).await {
                Ok(n) if n > 0 => tracing::debug!(deliveries = n, "webhook deliveries attempted"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "webhook delivery failed; will retry"),
            }
        }
    })
}
