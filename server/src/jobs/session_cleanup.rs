//! Deletes expired session rows and shared counters past their windows every ten minutes (expired sessions
//! are already refused; this keeps the tables small).

use app::backend::identity::sessions::delete_expired;
use app::backend::platform::clock::{Clock as _, SystemClock};
use app::backend::platform::metrics::Metrics;
use sqlx::AnyPool;
use std::time::Duration;

pub fn spawn(pool: AnyPool, metrics: Metrics) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match super::exclusive(&pool, &metrics, "session_cleanup", delete_expired(&pool, SystemClock.now_ms()))
                .await
            {
                Ok(Some(n)) if n > 0 => tracing::info!(deleted = n, "expired sessions removed"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "session cleanup failed; will retry"),
            }
            let sweep = async {
                let mut conn = pool.acquire().await?;
                app::backend::platform::counters::sweep(&mut conn, SystemClock.now_ms()).await
            };
            if let Err(err) = super::exclusive(&pool, &metrics, "counter_sweep", sweep).await {
                tracing::warn!(error = %err, "shared counters not swept; will retry");
            }
        }
    })
}
