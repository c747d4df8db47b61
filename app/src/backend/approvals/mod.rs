//! Four-eyes approval. An organisation's owners may require a second admin's approval for its riskiest acts
//! (`Act`): a master key, turning the two-factor requirement off, lowering the access-history retention, a data
//! export, erasing a member, deleting a webhook — and turning the requirement itself off. Each of those backend
//! functions takes a `Cleared` proof for its very act (the act and its parameters, not any act), made only
//! here: at once by `gate` when the requirement is off (or the act is harmless, as raising the retention), or
//! by `decide::approve` when another admin approved the waiting request. So no route — the console, a master
//! key over the REST API, a replayed form — runs a guarded act without it.
//!
//! While the requirement is on, the organisation keeps at least two active owners or admins
//! (`keeps_two_admins`, checked when a member is deactivated, removed, erased or demoted): otherwise a lone
//! admin could neither be checked nor get anything approved.

pub mod decide;

pub use crate::backend::access::four_eyes::{admins, keeps_two_admins, required, Act, Cleared, Gate};
use crate::backend::access::TenantCtx;
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::clock::HOUR_MS;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;

/// How long a request waits for its approval.
pub const EXPIRES_MS: i64 = 24 * HOUR_MS;
/// The longest reason kept.
pub const MAX_REASON: usize = 500;

/// Whether `act` needs an approval in this organisation now.
async fn needs_approval(conn: &mut sqlx::AnyConnection, ctx: &TenantCtx, act: &Act) -> Result<bool, AppError> {
    if !required(conn, ctx.tenant_id()).await? {
        return Ok(false);
    }
    Ok(match act {
        Act::TwoFactorPolicy { required } | Act::FourEyes { on: required } => !required,
        Act::WebhookEnabled { on, .. } => !on,
        Act::Retention { days } => {
            let now: i64 = sqlx::query_scalar("SELECT audit_retention_days FROM tenants WHERE id = $1")
                .bind(ctx.tenant_id().as_str())
                .fetch_one(&mut *conn)
                .await?;
            *days < now
        }
        _ => true,
    })
}

/// Decides whether `act` runs now or waits for another admin; a waiting request is recorded
/// (`approval.requested`) and the other owners and admins are told by email.
pub async fn gate(
    state: &AppState,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    act: Act,
    reason: Option<&str>,
) -> Result<Gate, AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    if !needs_approval(&mut tx, ctx, &act).await? {
        tx.rollback().await?;
        return Ok(Gate::Go(Cleared::issued(act, None)));
    }
    let summary = describe(&mut tx, ctx, &act).await?;
    let reason: String = reason.unwrap_or_default().trim().chars().take(MAX_REASON).collect();
    let id = uuid::Uuid::new_v4().to_string();
    let act_json = serde_json::to_string(&act).map_err(|_| AppError::Unavailable)?;
    sqlx::query(
        "INSERT INTO approvals (id, tenant_id, act, summary, reason, requested_by, requester_membership_id, \
         created_at, expires_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')",
    )
    .bind(&id)
    .bind(ctx.tenant_id().as_str())
    .bind(&act_json)
    .bind(&summary)
    .bind(&reason)
    .bind(ctx.actor())
    .bind(ctx.membership_id().as_str())
    .bind(now)
    .bind(now + EXPIRES_MS)
    .execute(&mut *tx)
    .await?;
    let detail =
        format!("{summary} (request {id}){}", if reason.is_empty() { String::new() } else { format!(": {reason}") });
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "approval.requested", Outcome::Success, &detail))
        .await?;
    let others: Vec<String> = sqlx::query_scalar(
        "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 \
         AND m.deactivated_at IS NULL AND m.role IN ('owner', 'admin') AND m.id <> $2",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.membership_id().as_str())
    .fetch_all(&mut *tx)
    .await?;
    let alert = crate::backend::alerts::Alert {
        kind: "approval_requested",
        summary: "An act waits for your approval".to_owned(),
        lines: vec![
            format!("{} asks to {summary} in {}.", ctx.actor(), ctx.tenant_name()),
            if reason.is_empty() { "No reason was given.".to_owned() } else { format!("Their reason: {reason}") },
            "Approve or refuse it in Rampart under Security → Approvals within 24 hours; it runs when approved."
                .to_owned(),
        ],
    };
    crate::backend::alerts::enqueue(&mut tx, now, ctx.tenant_id(), ctx.tenant_name(), &others, &alert).await?;
    tx.commit().await?;
    Ok(Gate::Waiting(id))
}

/// The act in words for the request, naming its record (which must be the organisation's: 404 otherwise).
async fn describe(conn: &mut sqlx::AnyConnection, ctx: &TenantCtx, act: &Act) -> Result<String, AppError> {
    let sql = match act {
        Act::EraseMember { .. } => {
            "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.id = $1 AND m.tenant_id = $2"
        }
        Act::DeleteWebhook { .. } | Act::WebhookEnabled { .. } => {
            "SELECT url FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2"
        }
        _ => return Ok(act.summary()),
    };
    let id = match act {
        Act::EraseMember { membership_id } => membership_id,
        Act::DeleteWebhook { webhook_id } | Act::WebhookEnabled { webhook_id, .. } => webhook_id,
        _ => return Ok(act.summary()),
    };
    let name: String = sqlx::query_scalar(sql)
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(match act {
        Act::EraseMember { .. } => format!("erase the member {name}"),
        Act::WebhookEnabled { on: false, .. } => format!("disable the webhook endpoint {name}"),
        Act::WebhookEnabled { on: true, .. } => format!("enable the webhook endpoint {name}"),
        _ => format!("delete the webhook endpoint {name}"),
    })
}

/// Turns the requirement on or off (owners). On needs a second active owner or admin; off is itself an act
/// that needs approval while it is on.
pub async fn set_required(
    state: &AppState,
    ctx: &TenantCtx,
    _owner: &crate::backend::access::OwnerHandle,
    meta: &RequestMeta,
    cleared: &Cleared,
    on: bool,
) -> Result<(), AppError> {
    cleared.covers(&Act::FourEyes { on })?;
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    crate::backend::access::four_eyes::lock_roles(&mut tx, ctx.tenant_id()).await?;
    if on && admins(&mut tx, ctx.tenant_id()).await? < 2 {
        return Err(AppError::Conflict {
            msg: "You are the only owner or admin: a second admin must exist to approve anything. Invite or promote \
                  one first."
                .to_owned(),
        });
    }
    sqlx::query("UPDATE tenants SET four_eyes = $1 WHERE id = $2")
        .bind(i64::from(on))
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let action = if on { "approval.required" } else { "approval.not_required" };
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, action, Outcome::Success, &Act::FourEyes { on }.summary()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
