//! Background jobs, one file each. Every pass is timed and counted by job name and outcome (`observed`); a
//! pass that must not run on two instances at once runs under its job lock (`exclusive`).

pub mod access_changes;
pub mod alert_delivery;
pub mod audit_anchor;
pub mod audit_retention;
pub mod backup;
pub mod data_export;
pub mod error_digest;
pub mod password_reset;
pub mod session_cleanup;
pub mod ssh_sync;
pub mod tenant_closure;
pub mod vault_maintenance;
pub mod webhooks;

use app::backend::platform::job_lock::JobLock;
use app::backend::platform::metrics::Metrics;
use std::future::Future;
use std::time::Instant;

/// Runs one pass of the job `job`, recording its duration and whether it succeeded.
pub async fn observed<T, E>(
    metrics: &Metrics,
    job: &'static str,
    pass: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = pass.await;
    metrics.job_run(job, result.is_ok(), started.elapsed());
    result
}

/// Runs one pass of `job` under its job lock (`app::backend::platform::job_lock`): when another instance is
/// running the job, this pass is skipped (`Ok(None)`) and the job's next tick tries again.
pub async fn exclusive<T, E: From<sqlx::Error>>(
    pool: &sqlx::AnyPool,
    metrics: &Metrics,
    job: &'static str,
    pass: impl Future<Output = Result<T, E>>,
) -> Result<Option<T>, E> {
    let Some(lock) = JobLock::try_take(pool, job).await? else {
        tracing::debug!(job, "another instance is running this job; skipped");
        return Ok(None);
    };
    let result = observed(metrics, job, pass).await;
    lock.release().await;
    result.map(Some)
}
