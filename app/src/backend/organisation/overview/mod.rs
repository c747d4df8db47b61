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
    // Ordered by time alone so the (tenant, action, time) index serves it newest-first without scanning every
    // event of the tenant (API requests included).
    let previous = sqlx::query(
        "SELECT created_at, ip FROM audit_events WHERE account_id = $1 AND action = 'sign_in' \
         AND outcome = 'success' AND tenant_id = $2 ORDER BY created_at DESC LIMIT 1 OFFSET 1",
    )
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
