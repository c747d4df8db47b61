//! Sends the password-reset links of queued requests that the request's own kick did not handle (a crash or
//! restart in between, another instance's queue): every 15 seconds.

use app::backend::{password_reset, AppState};
use std::time::Duration;

const TICK: Duration = Duration::from_secs(15);

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            if let Err(err) = password_reset::process_queue(&state).await {
                tracing::warn!(error = %err, "password reset queue not processed; will retry");
            }
        }
    })
}
