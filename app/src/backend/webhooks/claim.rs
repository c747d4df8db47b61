//! Who delivers to which endpoint: a worker (one per instance) claims endpoints with due deliveries by a lease
//! on the endpoint's row (`lease_owner`, `lease_until`). On PostgreSQL the claim skips rows another instance is
//! claiming at the same moment (`FOR UPDATE SKIP LOCKED`), so several instances deliver in parallel, never two
//! to one endpoint (its deliveries stay in order); on SQLite one server owns the file. A lease ends when its
//! worker releases it, when its time is up, or at once when its instance is gone (killed: its life lock is free,
//! `job_lock::instance_is_gone`), so a delivery cut off by a crash goes out again, with the same `webhook-id`,
//! as soon as any instance runs.

use crate::backend::platform::clock::SECOND_MS;
use crate::backend::platform::db::begin_write;
use crate::backend::AppState;
use crate::model::AppError;

/// How long a claim holds without being released (longer than the most one pass spends on an endpoint).
pub const LEASE_MS: i64 = 90 * SECOND_MS;

fn is_postgres(state: &AppState) -> bool {
    state.pool.connect_options().database_url.scheme().starts_with("postgres")
}

/// Frees the leases of other instances that are gone (killed: their life lock is free). PostgreSQL only: on
/// SQLite one server owns the file, and `at_start` frees what a dead one left.
async fn free_dead_leases(state: &AppState, me: &str, now: i64) -> Result<(), AppError> {
    if !is_postgres(state) {
        return Ok(());
    }
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT lease_owner FROM webhook_endpoints WHERE lease_owner IS NOT NULL AND lease_owner <> $1 \
         AND lease_until >= $2",
    )
    .bind(me)
    .bind(now)
    .fetch_all(&state.pool)
    .await?;
    for owner in owners {
        if crate::backend::platform::job_lock::instance_is_gone(&state.pool, &owner).await? {
            sqlx::query("UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
                .bind(&owner)
                .execute(&state.pool)
                .await?;
        }
    }
    Ok(())
}

/// At a server's start on SQLite, where no other server can be running on the file: every lease is a dead
/// server's, freed. (On PostgreSQL the claim itself frees the leases of gone instances.)
pub async fn at_start(state: &AppState) -> Result<(), AppError> {
    if !is_postgres(state) {
        sqlx::query(
            "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
        )
        .execute(&state.pool)
        .await?;
    }
    Ok(())
}

/// Claims up to `at_most` enabled endpoints that have a due delivery and no live lease; returns them as
/// `(tenant, endpoint)`.
pub async fn claim(state: &AppState, at_most: usize) -> Result<Vec<(String, String)>, AppError> {
    let me = state.exports.worker_id();
    let now = state.clock.now_ms();
    free_dead_leases(state, me, now).await?;
    let lock = if is_postgres(state) { "FOR UPDATE SKIP LOCKED" } else { "" };
    let mut tx = begin_write(&state.pool).await?;
    let ids: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT w.id FROM webhook_endpoints w WHERE w.enabled = 1 AND (w.lease_until IS NULL OR w.lease_until < $1) \
         AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id \
         AND d.status = 'pending' AND d.next_attempt_at <= $1) ORDER BY w.id LIMIT {at_most} {lock}"
    ))
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let tenant: String = sqlx::query_scalar(
            "UPDATE webhook_endpoints SET lease_owner = $1, lease_until = $2 WHERE id = $3 RETURNING tenant_id",
        )
        .bind(me)
        .bind(now + LEASE_MS)
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        claimed.push((tenant, id));
    }
    tx.commit().await?;
    Ok(claimed)
}

/// Whether this worker still holds its lease on `endpoint` with time to spare for another attempt.
pub async fn still_held(state: &AppState, endpoint: &str) -> Result<bool, AppError> {
    let until: Option<i64> = sqlx::query_scalar(
        "SELECT lease_until FROM webhook_endpoints WHERE id = $1 AND lease_owner = $2 AND enabled = 1",
    )
    .bind(endpoint)
    .bind(state.exports.worker_id())
    .fetch_optional(&state.pool)
    .await?
    .flatten();
    // An attempt takes at most 15 s (the timeout); keep a margin so a lease never ends mid-attempt.
    Ok(until.is_some_and(|u| u - state.clock.now_ms() > 30 * SECOND_MS))
}

/// Lets go of this worker's lease on `endpoint`.
pub async fn release(state: &AppState, endpoint: &str) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
    )
    .bind(endpoint)
    .bind(state.exports.worker_id())
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// Lets go of every lease of this instance (a clean stop: another instance takes over at once).
pub async fn release_all(state: &AppState) -> Result<(), AppError> {
    sqlx::query("UPDATE webhook_endpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1")
        .bind(state.exports.worker_id())
        .execute(&state.pool)
        .await?;
    Ok(())
}
