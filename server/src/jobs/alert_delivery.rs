//! Sends the security alerts whose window has ended (digests) every minute, and forgets stale sign-in
//! throttling counters and old sent alerts once an hour. Time comes from the state's clock.

use app::backend::{alerts, identity::throttle, AppState};
use std::time::Duration;

/// How often due alerts are looked for: a digest goes out at most this long after its window ends.
const TICK: Duration = Duration::from_secs(60);
/// Housekeeping every this many ticks.
const HOUSEKEEPING_EVERY: u32 = 60;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        let mut n: u32 = 0;
        loop {
            tick.tick().await;
            crate::rest::record_unknown_key_summaries(&state).await;
            match super::observed(&state.metrics, "alert_delivery", alerts::deliver_due(&state)).await {
                Ok(sent) if sent > 0 => tracing::info!(sent, "security alert emails sent"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "alert delivery failed; will retry"),
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(HOUSEKEEPING_EVERY) {
                let forget = throttle::forget_stale(&state);
                if let Err(err) = super::observed(&state.metrics, "throttle_housekeeping", forget).await {
                    tracing::warn!(error = %err, "throttle housekeeping failed; will retry");
                }
                if let Err(err) =
                    super::observed(&state.metrics, "alert_housekeeping", alerts::forget_sent(&state)).await
                {
                    tracing::warn!(error = %err, "alert housekeeping failed; will retry");
                }
            }
        }
    })
}
