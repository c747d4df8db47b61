//! The console overview: a few tenant-wide figures, the viewer's previous sign-in, and — for owners, admins and
//! auditors — the security posture and sign-in activity (`posture`). Few queries: it is benchmarked.

use crate::backend::access::TenantCtx;
use crate::backend::platform::clock::DAY_MS;
use crate::backend::AppState;
use crate::model::{AppError, OverviewView};
use sqlx::Row as _;

mod posture;
pub use posture::SIGN_IN_CHART_DAYS;

/// Owners, admins and auditors see the tenant's security posture (members see their own figures only).
fn sees_posture(ctx: &TenantCtx) -> bool {
    ctx.is_admin() || ctx.role() == crate::model::Role::Auditor
}

/// Figures for the overview page, all filtered by the context's tenant; read at most once a second per
/// membership while nothing changes (`access::epoch::RecentReads`).
pub async fn get_overview(state: &AppState, ctx: &TenantCtx) -> Result<OverviewView, AppError> {
    state.recent.overviews.get_or_load(ctx.membership_id().as_str(), read_overview(state, ctx)).await
}

/// The viewer's sign-ins in this tenant, newest first, from the (account, action, time) index: only their
/// sign-ins are read, however many other events they have. The tenant is compared through `COALESCE`, which
/// keeps SQLite from using the (tenant, account, time) index instead: without statistics it chose that one
/// and walked every event of the account back to the sign-in before this one — after an owner's 5,800 other
/// acts (chain-key reveals), 52 ms a read; the overview's figures are read again every second by every request
/// that finds them stale, and its p99 under load went to 0.23–0.5 s (2026-12-06).
const PREVIOUS_SIGN_IN: &str = "SELECT created_at, ip FROM audit_events WHERE account_id = $1 AND action = 'sign_in' \
     AND outcome = 'success' AND COALESCE(tenant_id, '') = $2 ORDER BY created_at DESC LIMIT 1 OFFSET 1";

async fn read_overview(state: &AppState, ctx: &TenantCtx) -> Result<OverviewView, AppError> {
    let since = state.clock.now_ms() - DAY_MS;
    let counts = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1) AS members, \
         (SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND created_at > $2 AND action = 'sign_in' \
          AND outcome = 'success') AS ok, \
         (SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND created_at > $2 AND action = 'sign_in' \
          AND outcome = 'failure') AS failed, \
         (SELECT COUNT(*) FROM totp_factors WHERE account_id = $3 AND enabled_at IS NOT NULL) AS totp_on, \
         (SELECT COUNT(*) FROM recovery_codes WHERE account_id = $3 AND used_at IS NULL) AS codes_left, \
         (SELECT require_two_factor FROM tenants WHERE id = $1) AS required",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(since)
    .bind(ctx.account_id().as_str())
    .fetch_one(&state.pool)
    .await?;
    // The newest success is this very session's sign-in; the one before it is what the user wants to check.
    let previous = sqlx::query(PREVIOUS_SIGN_IN)
        .bind(ctx.account_id().as_str())
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&state.pool)
        .await?;
    let keys_due = if ctx.can(crate::model::Permission::ApiKeys) {
        let mut conn = state.pool.acquire().await?;
        crate::backend::keys::count_due(&mut conn, ctx, state.clock.now_ms()).await?
    } else {
        0
    };
    let (posture, sign_in_days) = if sees_posture(ctx) {
        let mut conn = state.pool.acquire().await?;
        let now = state.clock.now_ms();
        (
            Some(posture::posture(&mut conn, ctx, now, state.timeouts).await?),
            posture::sign_ins_by_day(&mut conn, ctx, now).await?,
        )
    } else {
        (None, Vec::new())
    };
    Ok(OverviewView {
        keys_due,
        tenant_name: ctx.tenant_name().to_owned(),
        members: counts.try_get("members").map_err(AppError::from)?,
        sign_ins_24h: counts.try_get("ok").map_err(AppError::from)?,
        failed_sign_ins_24h: counts.try_get("failed").map_err(AppError::from)?,
        previous_sign_in_at: previous.as_ref().map(|r| r.try_get("created_at")).transpose().map_err(AppError::from)?,
        previous_sign_in_ip: previous.as_ref().map(|r| r.try_get("ip")).transpose().map_err(AppError::from)?,
        recovery_codes_left: (counts.try_get::<i64, _>("totp_on")? > 0)
            .then(|| counts.try_get::<i64, _>("codes_left"))
            .transpose()?,
        two_factor_required: counts.try_get::<i64, _>("required")? == 1,
        posture,
        sign_in_days,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::PREVIOUS_SIGN_IN;
    use crate::backend::platform::db::test_pool;
    use sqlx::Row as _;

    /// The previous sign-in is found through the account's sign-ins alone (no walk of the account's other
    /// events, no sort), and is the second newest success of this tenant.
    #[tokio::test]
    async fn the_previous_sign_in_reads_only_the_accounts_sign_ins() {
        let (_dir, pool) = test_pool().await;
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {PREVIOUS_SIGN_IN}"))
            .bind("a")
            .bind("t")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.starts_with("SEARCH audit_events USING INDEX audit_events_account_time (account_id=? AND action=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let insert = "INSERT INTO audit_events (id, tenant_id, account_id, actor, action, outcome, ip, user_agent, \
             detail, created_at, seq, prev_mac, mac) VALUES ($1, $2, 'a', 'o', $3, $4, $5, '', '', $6, $7, '', '')";
        let events = [
            ("t", "sign_in", "success", "192.0.2.1", 1),
            ("t", "sign_in", "success", "192.0.2.2", 2),
            ("t", "sign_in", "failure", "192.0.2.3", 3),
            ("u", "sign_in", "success", "192.0.2.4", 4),
            ("t", "audit.chain_key_reveal", "success", "192.0.2.5", 5),
            ("t", "sign_in", "success", "192.0.2.6", 6),
        ];
        for (i, (tenant, action, outcome, ip, at)) in events.into_iter().enumerate() {
            sqlx::query(insert)
                .bind(format!("e{i}"))
                .bind(tenant)
                .bind(action)
                .bind(outcome)
                .bind(ip)
                .bind(at)
                .bind(i as i64 + if tenant == "u" { 100 } else { 0 })
                .execute(&pool)
                .await
                .unwrap();
        }
        let row = sqlx::query(PREVIOUS_SIGN_IN).bind("a").bind("t").fetch_one(&pool).await.unwrap();
        assert_eq!(row.try_get::<String, _>("ip").unwrap(), "192.0.2.2", "the one before the newest, this tenant's");
    }
}
