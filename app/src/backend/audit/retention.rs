//! Retention: each tenant keeps its access history for `tenants.audit_retention_days` (default 400); older
//! events are purged oldest first, in batches, and the chain head remembers the last purged link (`base_seq`,
//! `base_mac`) so the remaining chain still verifies from that checkpoint. A purge is itself an event.

use super::chain::SYSTEM_CHAIN;
use super::{NewEvent, Outcome};
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::platform::clock::DAY_MS;
use crate::backend::platform::crypto::ServerKeys;
use crate::backend::platform::request::RequestMeta;
use crate::model::AppError;
use sqlx::{AnyPool, Row as _};

/// How long events are kept unless the tenant chose otherwise (and always for tenant-less events).
pub const DEFAULT_DAYS: i64 = 400;
/// The shortest and longest retention a tenant may choose.
pub const MIN_DAYS: i64 = 90;
pub const MAX_DAYS: i64 = 3650;
/// Events deleted per transaction.
const BATCH: i64 = 5000;
/// How far behind its timestamp an event may be appended (the API writer's batches): the purge looks that far
/// past the cutoff for the lowest sequence number to keep.
const APPEND_LAG_MS: i64 = 10 * 60 * 1000;

/// What a purge run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeSummary {
    pub chains: u64,
    pub deleted: u64,
}

/// Purges every chain past its retention.
pub async fn purge_all(pool: &AnyPool, keys: &ServerKeys, now: i64) -> Result<PurgeSummary, AppError> {
    let tenants = sqlx::query("SELECT id, audit_retention_days FROM tenants").fetch_all(pool).await?;
    let mut summary = PurgeSummary::default();
    for t in &tenants {
        let id: String = t.try_get("id")?;
        let days: i64 = t.try_get("audit_retention_days")?;
        summary.deleted += purge_chain(pool, keys, &id, days, now).await?;
        summary.chains += 1;
    }
    summary.deleted += purge_chain(pool, keys, SYSTEM_CHAIN, DEFAULT_DAYS, now).await?;
    summary.chains += 1;
    Ok(summary)
}

/// Deletes the chain's events older than `days` (never one that is newer) and moves its checkpoint.
pub async fn purge_chain(pool: &AnyPool, keys: &ServerKeys, chain: &str, days: i64, now: i64) -> Result<u64, AppError> {
    let cutoff = now - days.max(1) * DAY_MS;
    let system = chain == SYSTEM_CHAIN;
    // The chain is always parameter 2 (for the tenant-less chain a no-op comparison), so numbering never skips.
    let tenant = if system { "tenant_id IS NULL AND $2 = '-'" } else { "tenant_id = $2" };
    let Some(head) = sqlx::query("SELECT seq, base_seq FROM audit_chain_heads WHERE chain = $1")
        .bind(chain)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(0);
    };
    let head_seq: i64 = head.try_get("seq")?;
    let base_seq: i64 = head.try_get("base_seq")?;
    // The lowest sequence number of an event at or after the cutoff: everything before it goes.
    let near =
        format!("SELECT MIN(seq) AS s FROM audit_events WHERE {tenant} AND created_at >= $1 AND created_at < $3");
    let q = sqlx::query(&near).bind(cutoff).bind(chain);
    let mut keep_from: Option<i64> = q.bind(cutoff + APPEND_LAG_MS).fetch_one(pool).await?.try_get("s")?;
    if keep_from.is_none() {
        let first =
            format!("SELECT seq FROM audit_events WHERE {tenant} AND created_at >= $1 ORDER BY created_at, id LIMIT 1");
        let q = sqlx::query(&first).bind(cutoff).bind(chain);
        keep_from = q.fetch_optional(pool).await?.map(|r| r.try_get("seq")).transpose()?;
    }
    let through = keep_from.map_or(head_seq, |s| s - 1);
    let mut done = base_seq;
    let mut deleted = 0u64;
    while done < through {
        let upto = (done + BATCH).min(through);
        let mut tx = crate::backend::platform::db::begin_write(pool).await?;
        // Never purge under a head rewritten outside Rampart: moving its checkpoint would re-sign the rewrite.
        if !super::chain::head_sealed(&mut tx, keys, chain).await? {
            tracing::error!(
                chain,
                "retention purge stopped: the chain's head was rewritten (run `rampart audit verify`)"
            );
            break;
        }
        let sql = format!("SELECT mac FROM audit_events WHERE {tenant} AND seq = $1");
        let q = sqlx::query(&sql).bind(upto).bind(chain);
        let Some(mac) = q.fetch_optional(&mut *tx).await? else {
            tracing::error!(
                chain,
                seq = upto,
                "retention purge stopped: the chain has a gap (run `rampart audit verify`)"
            );
            break;
        };
        let mac: String = mac.try_get("mac")?;
        let sql = format!("DELETE FROM audit_events WHERE {tenant} AND seq > $1 AND seq <= $3");
        let q = sqlx::query(&sql).bind(done).bind(chain);
        deleted += q.bind(upto).execute(&mut *tx).await?.rows_affected();
        sqlx::query("UPDATE audit_chain_heads SET base_seq = $1, base_mac = $2 WHERE chain = $3")
            .bind(upto)
            .bind(&mac)
            .bind(chain)
            .execute(&mut *tx)
            .await?;
        super::chain::seal_head(&mut tx, keys, chain).await?;
        tx.commit().await?;
        done = upto;
    }
    if deleted > 0 && !system {
        let tenant_id = crate::backend::platform::ids::TenantId(chain.to_owned());
        let detail = format!("{deleted} events older than {days} days deleted; chain checkpoint at #{done}");
        let meta = RequestMeta { ip: "-".to_owned(), user_agent: "rampart retention".to_owned() };
        let mut tx = crate::backend::platform::db::begin_write(pool).await?;
        let ev = NewEvent {
            tenant_id: Some(&tenant_id),
            account_id: None,
            actor: "rampart",
            action: "audit.purge",
            outcome: Outcome::Success,
            meta: &meta,
            detail: &detail,
            key_id: None,
        };
        super::record(&mut tx, keys, now, &ev).await?;
        tx.commit().await?;
    }
    Ok(deleted)
}

/// The tenant's retention in days.
pub async fn retention_days(pool: &AnyPool, ctx: &TenantCtx) -> Result<i64, AppError> {
    let row = sqlx::query("SELECT audit_retention_days FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(pool)
        .await?;
    Ok(row.try_get("audit_retention_days")?)
}

/// Refuses a retention outside what the history may keep (before any approval is asked for it, too).
pub fn check_days(days: i64) -> Result<(), AppError> {
    if (MIN_DAYS..=MAX_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(AppError::validation("days", format!("Keep the access history for {MIN_DAYS} to {MAX_DAYS} days.")))
    }
}

/// Changes the tenant's retention (admins, after a step-up the caller checked); audited.
#[allow(clippy::too_many_arguments)]
pub async fn set_retention_days(
    pool: &AnyPool,
    keys: &ServerKeys,
    now: i64,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    days: i64,
    cleared: &crate::backend::access::four_eyes::Cleared,
) -> Result<(), AppError> {
    cleared.covers(&crate::backend::access::four_eyes::Act::Retention { days })?;
    check_days(days)?;
    let mut tx = crate::backend::platform::db::begin_write(pool).await?;
    let before: i64 = sqlx::query("SELECT audit_retention_days FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("audit_retention_days")?;
    sqlx::query("UPDATE tenants SET audit_retention_days = $1 WHERE id = $2")
        .bind(days)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("retention {before} → {days} days");
    super::record(&mut tx, keys, now, &NewEvent::by(ctx, meta, "audit.retention", Outcome::Success, &detail)).await?;
    tx.commit().await?;
    Ok(())
}
