//! The tenant's security posture and its sign-in activity by day: two queries, both on indexed columns.
//!
//! Definitions (what each figure counts, so the figures can be checked):
//! - members with two-factor: active memberships whose account has an enabled authenticator;
//! - admins: active owners and admins;
//! - live keys (not revoked, not expired, not canaries) whose current secret is older than 90 days, that were
//!   never used, or that have no IP allow list;
//! - stale sessions: signed-in sessions of the tenant, still valid, not used for over half the idle timeout —
//!   most likely a browser left open somewhere, which the member or an admin can end now rather than wait;
//! - machines due for renewal: active machines none of whose certificates has more than a third of its
//!   validity left (`machines::renewal_due`);
//! - sign-ins per UTC day: `sign_in` events of the tenant by outcome over the last `SIGN_IN_CHART_DAYS` days,
//!   today included (served by the `(tenant_id, action, created_at)` index).

use crate::backend::access::TenantCtx;
use crate::backend::identity::sessions::SessionTimeouts;
use crate::backend::platform::clock::DAY_MS;
use crate::model::{AppError, DayCount, PostureView};
use sqlx::{AnyConnection, Row as _};

/// Days the sign-in chart shows.
pub const SIGN_IN_CHART_DAYS: i64 = 14;
/// A key's secret older than this is counted as old.
const OLD_KEY_MS: i64 = 90 * DAY_MS;

pub(super) async fn posture(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    now: i64,
    timeouts: SessionTimeouts,
) -> Result<PostureView, AppError> {
    let stale_ms = timeouts.idle_ms / 2;
    let r = sqlx::query(
        "SELECT \
         (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND deactivated_at IS NULL) AS members, \
         (SELECT COUNT(*) FROM memberships m WHERE m.tenant_id = $1 AND m.deactivated_at IS NULL AND EXISTS \
          (SELECT 1 FROM totp_factors f WHERE f.account_id = m.account_id AND f.enabled_at IS NOT NULL)) AS with_2fa, \
         (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND deactivated_at IS NULL \
          AND role IN ('owner', 'admin')) AS admins, \
         (SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
          AND kind <> 'canary' AND COALESCE(rolled_at, created_at) <= $3) AS old_keys, \
         (SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
          AND kind <> 'canary' AND last_used_at IS NULL) AS unused_keys, \
         (SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
          AND kind <> 'canary' AND allowed_ips = '') AS open_keys, \
         (SELECT COUNT(*) FROM sessions WHERE tenant_id = $1 AND updated_at > $4 AND updated_at <= $5 \
          AND authenticated_at > $6) AS stale_sessions, \
         (SELECT COUNT(*) FROM machines m WHERE m.tenant_id = $1 AND m.revoked_at IS NULL AND NOT EXISTS \
          (SELECT 1 FROM machine_certs c WHERE c.machine_id = m.id AND c.tenant_id = $1 \
          AND $2 < c.not_after - (c.not_after - c.not_before) / 3)) AS machines_due, \
         (SELECT require_two_factor FROM tenants WHERE id = $1) AS required",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(now)
    .bind(now - OLD_KEY_MS)
    .bind(now - timeouts.idle_ms)
    .bind(now - stale_ms)
    .bind(now - timeouts.absolute_ms)
    .fetch_one(conn)
    .await?;
    Ok(PostureView {
        members: r.try_get("members")?,
        members_with_two_factor: r.try_get("with_2fa")?,
        admins: r.try_get("admins")?,
        keys_older_than_90_days: r.try_get("old_keys")?,
        keys_never_used: r.try_get("unused_keys")?,
        keys_without_ip_restriction: r.try_get("open_keys")?,
        stale_sessions: r.try_get("stale_sessions")?,
        stale_after_minutes: stale_ms / 60_000,
        two_factor_required: r.try_get::<i64, _>("required")? == 1,
        machines_due_for_renewal: r.try_get("machines_due")?,
    })
}

/// Sign-in successes and failures per UTC day, oldest first, every day present (zeros included).
pub(super) async fn sign_ins_by_day(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    now: i64,
) -> Result<Vec<DayCount>, AppError> {
    let today = now.div_euclid(DAY_MS);
    let first = today - (SIGN_IN_CHART_DAYS - 1);
    let rows = sqlx::query(
        "SELECT created_at / 86400000 AS day, outcome, COUNT(*) AS n FROM audit_events \
         WHERE tenant_id = $1 AND action IN ('sign_in', 'sign_in.second_factor') AND created_at >= $2 \
         AND created_at < $3 \
         GROUP BY created_at / 86400000, outcome",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(first * DAY_MS)
    .bind((today + 1) * DAY_MS)
    .fetch_all(conn)
    .await?;
    let mut days: Vec<DayCount> =
        (first..=today).map(|d| DayCount { day: d * DAY_MS, successes: 0, failures: 0 }).collect();
    for r in rows {
        let day: i64 = r.try_get("day")?;
        let outcome: String = r.try_get("outcome")?;
        let n: i64 = r.try_get("n")?;
        let Some(slot) = usize::try_from(day - first).ok().and_then(|i| days.get_mut(i)) else { continue };
        match outcome.as_str() {
            "success" => slot.successes += n,
            _ => slot.failures += n,
        }
    }
    Ok(days)
}
