//! Syncs members' SSH keys from GitHub (`app::backend::ssh::sync`): every 20 seconds (or half the sync
//! interval, when shorter) the links whose time has come (each link every `ssh_sync_seconds`, jittered), one
//! instance at a time.

use app::backend::ssh::sync::sync_due;
use app::backend::AppState;
use std::time::Duration;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let half = u64::try_from(state.ssh.sync_every_ms / 2).unwrap_or(0).max(1_000);
        let mut tick = tokio::time::interval(Duration::from_millis(half.min(20_000)));
        loop {
            tick.tick().await;
            match super::exclusive(&state.pool, &state.metrics, "ssh_sync", sync_due(&state)).await {
                Ok(Some(n)) if n > 0 => tracing::debug!(links = n, "SSH keys synced from GitHub"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "SSH key sync failed; will retry"),
            }
        }
    })
}
