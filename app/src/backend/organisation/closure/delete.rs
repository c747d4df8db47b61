//! The end of a closed tenant: after `closes_at`, every row of the tenant in every tenant-scoped table is
//! deleted, and the accounts that belong to no other tenant with it.
//!
//! Order, so that a crash at any point leaves nothing readable and the next run finishes the job:
//! 1. the tenant's vault data keys are deleted in a transaction of their own (crypto-shredding: every
//!    ciphertext of the tenant, in the database or on disk, is unreadable from this commit on);
//! 2. the tenant's vault blobs are removed from the blob store, best effort;
//! 3. one transaction deletes the rows of `TENANT_TABLES`, the memberships, the orphaned accounts and the
//!    tenant row, and appends one tenant-less `tenant.closed` event naming the tenant id only.

use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::ids::AccountId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::Row as _;

/// Every tenant-scoped table and how its rows of tenant `$1` are found, children before parents. A table that
/// gains a tenant column gets a line here (the closure tests scan every table for the tenant id).
pub const TENANT_TABLES: &[(&str, &str)] = &[
    // The vault (the keys went first, in a transaction of their own).
    ("approvals", "tenant_id = $1"),
    ("machine_certs", "tenant_id = $1"),
    ("machines", "tenant_id = $1"),
    ("machine_tokens", "tenant_id = $1"),
    ("machine_cas", "tenant_id = $1"),
    ("webhook_attempts", "tenant_id = $1"),
    ("webhook_deliveries", "tenant_id = $1"),
    ("webhook_endpoints", "tenant_id = $1"),
    ("sftp_sessions", "tenant_id = $1"),
    ("ssh_keys", "tenant_id = $1"),
    ("ssh_certificates", "tenant_id = $1"),
    ("ssh_cas", "tenant_id = $1"),
    ("ssh_github_links", "tenant_id = $1"),
    ("vault_links", "tenant_id = $1"),
    ("vault_folders", "tenant_id = $1"),
    ("vault_versions", "tenant_id = $1"),
    ("vault_objects", "tenant_id = $1"),
    ("vault_rotations", "tenant_id = $1"),
    ("vault_data_keys", "tenant_id = $1"),
    // Data exports (their encrypted ZIPs are blobs of the tenant, gone with its keys and blobs).
    ("data_exports", "tenant_id = $1"),
    ("api_key_usage", "key_id IN (SELECT id FROM api_keys WHERE tenant_id = $1)"),
    ("api_keys", "tenant_id = $1"),
    ("sessions", "tenant_id = $1"),
    ("account_tokens", "tenant_id = $1"),
    ("invitations", "tenant_id = $1"),
    ("ip_blocks", "tenant_id = $1"),
    ("pending_alerts", "tenant_id = $1"),
    ("alert_windows", "tenant_id = $1"),
    ("audit_events", "tenant_id = $1"),
    ("error_reports", "tenant_id = $1"),
    ("audit_chain_heads", "chain = $1"),
];

/// What closing one tenant removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub tenant_id: String,
    pub rows: u64,
    pub accounts_deleted: u64,
}

/// Closes every tenant whose `closes_at` has passed (the job runs this every 10 minutes and at start-up).
pub async fn close_due(state: &AppState) -> Result<Vec<Closed>, AppError> {
    let now = state.clock.now_ms();
    let due = sqlx::query("SELECT id FROM tenants WHERE closes_at IS NOT NULL AND closes_at <= $1 ORDER BY closes_at")
        .bind(now)
        .fetch_all(&state.pool)
        .await?;
    let mut out = Vec::new();
    for r in &due {
        let id: String = r.try_get("id")?;
        if let Some(c) = close_tenant(state, &id).await? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Whether the tenant is (still) due, taking its row's write lock for the caller's transaction.
async fn lock_if_due(conn: &mut sqlx::AnyConnection, tenant: &str, now: i64) -> Result<bool, AppError> {
    let n = sqlx::query(
        "UPDATE tenants SET closes_at = closes_at WHERE id = $1 AND closes_at IS NOT NULL AND closes_at <= $2",
    )
    .bind(tenant)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Closes one tenant if it is due; `None` when it is not (a cancel won the race, or it is gone already).
pub async fn close_tenant(state: &AppState, tenant: &str) -> Result<Option<Closed>, AppError> {
    let now = state.clock.now_ms();
    // 1. Crypto-shredding, committed on its own.
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if !lock_if_due(&mut tx, tenant, now).await? {
        return Ok(None);
    }
    crate::backend::vault::keys::destroy_all(&mut tx, tenant).await?;
    tx.commit().await?;
    // 2. The blobs, best effort: without their keys they are noise already.
    if let Err(e) = state.vault.store.delete_tenant(tenant).await {
        tracing::warn!(tenant, error = %e, "vault blobs of a closed tenant not removed");
    }
    // 3. Everything else, and the record.
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if !lock_if_due(&mut tx, tenant, now).await? {
        return Ok(None);
    }
    let orphans = sqlx::query(
        "SELECT a.id, a.email_key FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 \
         AND NOT EXISTS (SELECT 1 FROM memberships o WHERE o.account_id = m.account_id AND o.tenant_id <> $1)",
    )
    .bind(tenant)
    .fetch_all(&mut *tx)
    .await?;
    let mut rows = 0u64;
    for (table, which) in TENANT_TABLES {
        let sql = format!("DELETE FROM {table} WHERE {which}");
        rows += sqlx::query(&sql).bind(tenant).execute(&mut *tx).await?.rows_affected();
    }
    rows += sqlx::query("DELETE FROM memberships WHERE tenant_id = $1")
        .bind(tenant)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    for o in &orphans {
        let (id, key): (String, String) = (o.try_get("id")?, o.try_get("email_key")?);
        crate::backend::organisation::erasure::delete_account(&mut tx, state, &AccountId(id), &key).await?;
    }
    rows += sqlx::query("DELETE FROM tenants WHERE id = $1").bind(tenant).execute(&mut *tx).await?.rows_affected();
    let detail = format!("organisation {tenant} closed at its owner's request: all its data deleted");
    let meta = RequestMeta { ip: "-".to_owned(), user_agent: "rampart tenant closure".to_owned() };
    let ev = NewEvent {
        tenant_id: None,
        account_id: None,
        actor: "rampart",
        action: "tenant.closed",
        outcome: Outcome::Success,
        meta: &meta,
        detail: &detail,
        key_id: None,
    };
    audit::record(&mut tx, &state.keys, now, &ev).await?;
    tx.commit().await?;
    state.access_changed();
    let accounts_deleted = orphans.len() as u64;
    tracing::warn!(tenant, rows, accounts_deleted, "tenant closed and deleted");
    Ok(Some(Closed { tenant_id: tenant.to_owned(), rows, accounts_deleted }))
}
