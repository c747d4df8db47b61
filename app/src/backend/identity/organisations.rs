//! Belonging to several organisations: listing them and switching the session to another one.

use crate::backend::access::TenantCtx;
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::ids::{MembershipId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::Row as _;

/// The organisations the signed-in account belongs to (active memberships), the current one marked.
pub async fn list_tenants_of(state: &AppState, ctx: &TenantCtx) -> Result<Vec<crate::model::TenantChoice>, AppError> {
    let rows = sqlx::query(
        "SELECT m.id, m.role, t.name FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.account_id = $1 AND m.deactivated_at IS NULL ORDER BY t.name_key",
    )
    .bind(ctx.account_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            Ok(crate::model::TenantChoice {
                current: id == ctx.membership_id().0,
                membership_id: id,
                tenant_name: r.try_get("name")?,
                role: r.try_get("role")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The context of another organisation of the same account. Refused (not found) for a membership that isn't
/// the account's or is deactivated, and (conflict) when that organisation requires two-factor authentication
/// the account hasn't set up. Audited in the organisation entered.
pub async fn switch_tenant(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    membership: &MembershipId,
) -> Result<TenantCtx, AppError> {
    // Only a signed-in member switches: a key belongs to one tenant.
    if ctx.api_key().is_some() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT m.tenant_id, m.role, m.grants, t.name, t.require_two_factor FROM memberships m \
         JOIN tenants t ON t.id = m.tenant_id WHERE m.id = $1 AND m.account_id = $2 AND m.deactivated_at IS NULL",
    )
    .bind(membership.as_str())
    .bind(ctx.account_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let requires: i64 = row.try_get("require_two_factor")?;
    if requires == 1 && !crate::backend::identity::two_factor::is_enabled(&mut tx, ctx.account_id()).await? {
        return Err(AppError::Conflict {
            msg: "That organisation requires two-factor authentication: set it up in Security first.".into(),
        });
    }
    let grants: String = row.try_get("grants")?;
    let next = TenantCtx::member(crate::backend::access::MemberParts {
        tenant_id: TenantId(row.try_get("tenant_id")?),
        account_id: ctx.account_id().clone(),
        membership_id: membership.clone(),
        role: row.try_get("role")?,
        email: ctx.actor().to_owned(),
        tenant_name: row.try_get("name")?,
        grants: crate::model::Permission::parse_list(&grants),
        tenant_count: ctx.tenant_count(),
    });
    sqlx::query("UPDATE memberships SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(membership.as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("from {}", ctx.tenant_name());
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(&next, meta, "tenant.switch", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(next)
}
