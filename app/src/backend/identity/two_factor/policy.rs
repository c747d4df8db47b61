//! Two-factor policy and administration: the tenant's "required for every member" switch, a member switching
//! their own factor off, and an admin's reset of a member's factor.

use super::is_enabled;
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::alerts::notify::{self, Notice};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::ids::{AccountId, MembershipId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// Whether any tenant the account belongs to requires two-factor authentication.
pub async fn required_for_account(conn: &mut AnyConnection, account: &AccountId) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.account_id = $1 AND t.require_two_factor = 1",
    )
    .bind(account.as_str())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Switches the member's own two-factor authentication off (step-up required); refused while a tenant of the
/// account requires it.
pub async fn disable(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _proof: &SteppedUp,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if required_for_account(&mut tx, ctx.account_id()).await? {
        return Err(AppError::Conflict {
            msg: "Your organisation requires two-factor authentication, so it cannot be switched off.".to_owned(),
        });
    }
    remove_factor(&mut tx, ctx.account_id()).await?;
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "two_factor.disable", Outcome::Success, ""))
        .await?;
    tx.commit().await?;
    notify::send(state, &Notice::TwoFactorDisabled, ctx.actor(), ctx.tenant_name(), meta).await;
    Ok(())
}

async fn remove_factor(conn: &mut AnyConnection, account: &AccountId) -> Result<(), AppError> {
    sqlx::query("DELETE FROM totp_factors WHERE account_id = $1").bind(account.as_str()).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account.as_str()).execute(&mut *conn).await?;
    Ok(())
}

/// An admin removes a member's authenticator and recovery codes (step-up required): the member's sessions end,
/// the suspension (if any) is lifted, and the member enrolls again at the next sign-in.
pub async fn reset_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    membership: &MembershipId,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let (account, email) = crate::backend::organisation::members::member_account(&mut tx, ctx, membership).await?;
    // The authenticator belongs to the person, not to this organisation: it also guards every other one they
    // belong to. An admin here removing it would lift another organisation's two-factor requirement (the
    // person, or whoever has their password, enrolls a new one at the next sign-in) and end their sessions
    // there: only an organisation that is theirs alone may.
    let elsewhere: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE account_id = $1 AND tenant_id <> $2")
            .bind(account.as_str())
            .bind(ctx.tenant_id().as_str())
            .fetch_one(&mut *tx)
            .await?;
    if elsewhere > 0 {
        return Err(AppError::Conflict {
            msg: format!(
                "{email} also belongs to another organisation, which their authenticator protects too: they can \
                 sign in with a recovery code and set up a new authenticator themselves."
            ),
        });
    }
    remove_factor(&mut tx, &account).await?;
    sqlx::query(
        "UPDATE accounts SET must_enroll_two_factor = 1, mfa_consecutive_failures = 0, mfa_window_failures = 0 \
         WHERE id = $1",
    )
    .bind(account.as_str())
    .execute(&mut *tx)
    .await?;
    let ended = crate::backend::identity::sessions::end_account_sessions(&mut tx, &account, None).await?;
    let detail = format!("member {email}; {ended} session(s) ended");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "two_factor.reset_by_admin", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    notify::send(state, &Notice::TwoFactorResetByAdmin { admin: ctx.actor() }, &email, ctx.tenant_name(), meta).await;
    Ok(())
}

/// Switches the tenant's "two-factor authentication for every member" policy (admin, step-up). Switching it on
/// needs the admin's own authenticator, so nobody locks the tenant out of its own console.
pub async fn set_policy(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    cleared: &crate::backend::access::four_eyes::Cleared,
    required: bool,
) -> Result<(), AppError> {
    cleared.covers(&crate::backend::access::four_eyes::Act::TwoFactorPolicy { required })?;
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if required && !is_enabled(&mut tx, ctx.account_id()).await? {
        return Err(AppError::Conflict {
            msg: "Set up two-factor authentication for yourself before requiring it for everyone.".to_owned(),
        });
    }
    sqlx::query("UPDATE tenants SET require_two_factor = $1 WHERE id = $2")
        .bind(i64::from(required))
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    // Members who are signed in without an authenticator sign in again, and enroll on the way in.
    let ended = if required {
        sqlx::query(
            "DELETE FROM sessions WHERE tenant_id = $1 AND account_id NOT IN \
             (SELECT account_id FROM totp_factors WHERE enabled_at IS NOT NULL)",
        )
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        0
    };
    let detail = if required {
        format!("required: off → on; {ended} session(s) without two-factor ended")
    } else {
        "required: on → off".to_owned()
    };
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "policy.two_factor", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    Ok(())
}

/// Whether the tenant requires two-factor authentication.
pub async fn tenant_requires(conn: &mut AnyConnection, ctx: &TenantCtx) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT require_two_factor FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<i64, _>("require_two_factor")? == 1)
}
