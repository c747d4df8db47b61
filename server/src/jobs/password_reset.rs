//! Sends the password-reset links of queued requests: at once when a request wakes it (several requests
//! arriving together wake it once: one worker per process, never one per request), and every 15 seconds for
//! what a crash, a restart or another instance left in the queue.

use app::backend::{identity::password_reset, AppState};
use std::time::Duration;

const TICK: Duration = Duration::from_secs(15);

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = state.reset_wake.notified() => {}
            }
            let pass = password_reset::process_queue(&state);
            if let Err(err) = super::observed(&state.metrics, "password_reset", pass).await {
                tracing::warn!(error = %err, "password reset queue not processed; will retry");
            }
        }
    })
}
