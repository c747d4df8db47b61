//! The vault's background work, every 30 seconds (and once at start): tenant key rotations in progress are
//! carried on (re-encrypting blob by blob, resumable after a restart), and files in the bin longer than the
//! restore window are purged.

use app::backend::vault::{manage, rotation};
use app::backend::AppState;
use std::time::Duration;

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            match super::exclusive(&state.pool, &state.metrics, "vault_rotation", rotation::run_pending(&state)).await {
                Ok(Some(n)) if n > 0 => tracing::info!(files = n, "vault key rotation: files re-encrypted"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "vault key rotation stopped; will retry"),
            }
            match super::exclusive(&state.pool, &state.metrics, "vault_purge", manage::purge_expired(&state)).await {
                Ok(Some(n)) if n > 0 => tracing::info!(files = n, "vault bin purged"),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "vault purge failed; will retry"),
            }
        }
    })
}
