//! The tenant's members, as admins see them. (Invitations, roles and grants build on this.)

use super::context::{AdminHandle, TenantCtx};
use super::AppState;
use crate::model::{AppError, MemberView, MembersView};
use sqlx::Row as _;

/// Every member of the caller's tenant with role, two-factor status and last sign-in; admins only.
pub async fn list_members(state: &AppState, ctx: &TenantCtx, _admin: &AdminHandle) -> Result<MembersView, AppError> {
    let rows = sqlx::query(
        "SELECT m.id, a.email, m.role, m.last_sign_in_at, \
           (SELECT COUNT(*) FROM totp_factors f WHERE f.account_id = a.id AND f.enabled_at IS NOT NULL) AS totp_on \
         FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 ORDER BY a.email_key",
    )
    .bind(ctx.tenant_id.as_str())
    .fetch_all(&state.pool)
    .await?;
    let members = rows
        .iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(MemberView {
                is_me: id == ctx.membership_id.0,
                membership_id: id,
                email: r.try_get("email")?,
                role: r.try_get("role")?,
                two_factor_enabled: r.try_get::<i64, _>("totp_on")? > 0,
                last_sign_in_at: r.try_get("last_sign_in_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut conn = state.pool.acquire().await?;
    let tenant_requires_two_factor = super::two_factor::tenant_requires(&mut conn, ctx).await?;
    Ok(MembersView { members, can_manage: ctx.is_admin(), tenant_requires_two_factor })
}
