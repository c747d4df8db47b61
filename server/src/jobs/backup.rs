//! Scheduled backups (`backup_dir`, every `backup_every_hours`, `backup_keep` kept): checked every ten
//! minutes, made by one instance at a time (the job lock), into `backup_dir/rampart-<UTC time>`; the oldest
//! beyond `backup_keep` are deleted. Each is recorded (its age shows on `/readyz` and in `rampart status`).

use crate::backup::{self, BackupError};
use crate::startup::config::Settings;
use app::backend::AppState;
use std::path::Path;
use std::time::Duration;

pub fn spawn(state: AppState, settings: Settings) -> Option<tokio::task::JoinHandle<()>> {
    let dir = settings.backup_dir.clone().filter(|d| !d.as_os_str().is_empty())?;
    if settings.backup_every_hours == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let pass = run_if_due(&state, &settings, &dir);
            match super::exclusive(&state.pool, &state.metrics, "backup", pass).await {
                Ok(Some(Some(made))) => tracing::info!(dir = %made, "scheduled backup written"),
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "scheduled backup failed; will retry"),
            }
        }
    }))
}

/// Makes a backup when the last one is older than the schedule; returns its folder.
pub async fn run_if_due(state: &AppState, settings: &Settings, dir: &Path) -> Result<Option<String>, BackupError> {
    let now = state.clock.now_ms();
    let every = i64::try_from(settings.backup_every_hours).unwrap_or(i64::MAX).saturating_mul(3_600_000);
    if backup::last_good(&state.pool).await?.is_some_and(|(at, _)| now - at < every) {
        return Ok(None);
    }
    let stamp = app::model::format_rfc3339(now).replace([':', '-'], "");
    let target = dir.join(format!("rampart-{}", stamp.get(..15).unwrap_or(&stamp)));
    let made = backup::create::create(settings, state, &target).await?;
    backup::record(&state.pool, &made).await?;
    prune(dir, settings.backup_keep)?;
    Ok(Some(target.display().to_string()))
}

/// Keeps the newest `keep` scheduled backups in `dir` (folders named `rampart-…`, which sort by time).
fn prune(dir: &Path, keep: u32) -> Result<(), BackupError> {
    let mut made: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("rampart-") && e.path().is_dir())
        .map(|e| e.path())
        .collect();
    made.sort();
    let excess = made.len().saturating_sub(keep as usize);
    for old in made.into_iter().take(excess) {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}
