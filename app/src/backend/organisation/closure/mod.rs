//! Closing a tenant ("erase us"): an owner asks, 14 days of cooling-off follow, then every row of the tenant
//! is deleted (`delete`).
//!
//! Policy:
//! - Only an owner, signed in and stepped up within 10 minutes, asks, typing the organisation's name.
//! - Every member and the security contact are emailed when the closure is asked for and when it is cancelled.
//! - During the cooling-off the tenant is frozen, deny by default: the session gate sends every console page
//!   to the closure page, `api::ssr::tenant_ctx` refuses every server function (only the closure page's own,
//!   who-am-I and signing out use `tenant_ctx_while_closing`), and API key verification refuses every key of
//!   the tenant (409 with the date). Nothing is deleted before `closes_at`.
//! - Any owner may cancel until `closes_at` (no step-up: cancelling only gives back what the request took
//!   away). Past `closes_at` the deletion has begun and cancelling is refused.

pub mod delete;

use crate::backend::access::{OwnerHandle, TenantCtx};
use crate::backend::alerts::notify::{self, Notice};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::clock::DAY_MS;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{format_utc, AppError, ClosureView};
use sqlx::{AnyConnection, Row as _};

/// The cooling-off between the request and the deletion.
pub const COOLING_OFF_MS: i64 = 14 * DAY_MS;

/// The closure page's data.
pub async fn get_closure(
    state: &AppState,
    ctx: &TenantCtx,
    step_up_valid_until: Option<i64>,
) -> Result<ClosureView, AppError> {
    let mut conn = state.pool.acquire().await?;
    let row = sqlx::query("SELECT name, closure_requested_at, closes_at FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(ClosureView {
        tenant_name: row.try_get("name")?,
        requested_at: row.try_get("closure_requested_at")?,
        closes_at: row.try_get("closes_at")?,
        can_act: ctx.require_owner().is_ok(),
        step_up_valid_until,
        two_factor_enabled: crate::backend::identity::two_factor::is_enabled(&mut conn, ctx.account_id()).await?,
    })
}

/// Asks for the tenant's closure in `COOLING_OFF_MS`; `confirm_name` must be the organisation's name.
/// Returns when it closes.
pub async fn request_closure(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    _proof: &SteppedUp,
    confirm_name: &str,
) -> Result<i64, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query("SELECT name, closes_at FROM tenants WHERE id = $1").bind(tenant).fetch_one(&mut *tx).await?;
    let name: String = row.try_get("name")?;
    if row.try_get::<Option<i64>, _>("closes_at")?.is_some() {
        return Err(AppError::Conflict { msg: "The organisation's closure was already requested.".into() });
    }
    if !confirm_name.trim().eq_ignore_ascii_case(name.trim()) {
        return Err(AppError::validation("confirm", "Type the organisation's name exactly to confirm."));
    }
    let closes_at = now + COOLING_OFF_MS;
    sqlx::query(
        "UPDATE tenants SET closure_requested_at = $1, closure_requested_by = $2, closes_at = $3 WHERE id = $4",
    )
    .bind(now)
    .bind(ctx.membership_id().as_str())
    .bind(closes_at)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    let detail =
        format!("closure requested: the organisation and all its data will be deleted after {}", format_utc(closes_at));
    let ev = NewEvent::by(ctx, meta, "tenant.closure_request", Outcome::Success, &detail);
    audit::record(&mut tx, &state.keys, now, &ev).await?;
    let to = recipients(&mut tx, tenant).await?;
    tx.commit().await?;
    state.access_changed();
    let when = format_utc(closes_at);
    for r in &to {
        notify::send(state, &Notice::ClosureRequested { closes_at: &when }, r, &name, meta).await;
    }
    tracing::warn!(tenant = %ctx.tenant_id(), closes_at, "tenant closure requested");
    Ok(closes_at)
}

/// Cancels a requested closure (an owner, before `closes_at`).
pub async fn cancel_closure(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query("SELECT name, closes_at FROM tenants WHERE id = $1").bind(tenant).fetch_one(&mut *tx).await?;
    let name: String = row.try_get("name")?;
    match row.try_get::<Option<i64>, _>("closes_at")? {
        None => return Err(AppError::Conflict { msg: "No closure of the organisation is pending.".into() }),
        Some(at) if at <= now => {
            return Err(AppError::Conflict { msg: "The closure has begun and can no longer be cancelled.".into() })
        }
        Some(_) => {}
    }
    sqlx::query(
        "UPDATE tenants SET closure_requested_at = NULL, closure_requested_by = NULL, closes_at = NULL WHERE id = $1",
    )
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    let ev = NewEvent::by(ctx, meta, "tenant.closure_cancel", Outcome::Success, "closure cancelled");
    audit::record(&mut tx, &state.keys, now, &ev).await?;
    let to = recipients(&mut tx, tenant).await?;
    tx.commit().await?;
    state.access_changed();
    for r in &to {
        notify::send(state, &Notice::ClosureCancelled, r, &name, meta).await;
    }
    Ok(())
}

/// Every active member's email and the security contact, each once.
async fn recipients(conn: &mut AnyConnection, tenant: &str) -> Result<Vec<String>, AppError> {
    let rows = sqlx::query(
        "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.tenant_id = $1 AND m.deactivated_at IS NULL ORDER BY a.email_key",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<String> = rows.iter().map(|r| r.try_get("email")).collect::<Result<_, _>>()?;
    let contact: String = sqlx::query("SELECT security_contact FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(&mut *conn)
        .await?
        .try_get("security_contact")?;
    let contact = contact.trim();
    if !contact.is_empty() && !out.iter().any(|e| e.eq_ignore_ascii_case(contact)) {
        out.push(contact.to_owned());
    }
    Ok(out)
}

/// A tenant waiting for its closure, as the operator CLI lists it (no other data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingClosure {
    pub tenant_id: String,
    pub name: String,
    pub requested_at: i64,
    pub closes_at: i64,
}

/// Every tenant with a pending closure, soonest first.
pub async fn pending_closures(pool: &sqlx::AnyPool) -> Result<Vec<PendingClosure>, AppError> {
    let rows = sqlx::query(
        "SELECT id, name, closure_requested_at, closes_at FROM tenants WHERE closes_at IS NOT NULL \
         ORDER BY closes_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingClosure {
                tenant_id: r.try_get("id")?,
                name: r.try_get("name")?,
                requested_at: r.try_get::<Option<i64>, _>("closure_requested_at")?.unwrap_or(0),
                closes_at: r.try_get("closes_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}
