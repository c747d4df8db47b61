//! Support access only with the organisation's consent. A platform operator asks from the command line
//! (`rampart support request`): who, why, for how long. The organisation's owners are told (and its security
//! contact) and approve — with a step-up, for at most 72 hours, choosing whether the vault's contents and the
//! data exports are included, within what the consent settings allow — or refuse. The operator then opens a
//! one-time link (`rampart support open`, `session`) and gets a read-only console session of that organisation,
//! bannered on every page, each page viewed recorded in its access history; any owner ends it at once.
//! Organisations may allow no support access at all.

pub mod session;

use crate::backend::access::{OwnerHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::clock::HOUR_MS;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, ConsentView, SupportRequestView};
use sqlx::Row as _;

/// The longest support access an owner can grant.
pub const MAX_HOURS: i64 = 72;

const COLUMNS: &str = "id, operator, reason, hours, created_at, state, decided_by, decided_at, until, allow_vault, \
                       allow_exports";

fn view(r: &sqlx::any::AnyRow, now: i64) -> Result<SupportRequestView, AppError> {
    let mut state: String = r.try_get("state")?;
    let until: Option<i64> = r.try_get("until")?;
    if state == "approved" && until.is_some_and(|u| u <= now) {
        state = "ended".to_owned();
    }
    Ok(SupportRequestView {
        id: r.try_get("id")?,
        operator: r.try_get("operator")?,
        reason: r.try_get("reason")?,
        hours: r.try_get("hours")?,
        created_at: r.try_get("created_at")?,
        state,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        until,
        allow_vault: r.try_get::<i64, _>("allow_vault")? == 1,
        allow_exports: r.try_get::<i64, _>("allow_exports")? == 1,
    })
}

/// The consent page: the settings and every request, newest first.
pub async fn consent(state: &AppState, ctx: &TenantCtx, _owner: &OwnerHandle) -> Result<ConsentView, AppError> {
    let now = state.clock.now_ms();
    let t = sqlx::query(
        "SELECT support_allowed, support_vault_allowed, support_exports_allowed, security_contact FROM tenants \
         WHERE id = $1",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_one(&state.pool)
    .await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM support_requests WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 100"
    ))
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    Ok(ConsentView {
        allowed: t.try_get::<i64, _>("support_allowed")? == 1,
        vault_allowed: t.try_get::<i64, _>("support_vault_allowed")? == 1,
        exports_allowed: t.try_get::<i64, _>("support_exports_allowed")? == 1,
        security_contact: t.try_get("security_contact")?,
        requests: rows.iter().map(|r| view(r, now)).collect::<Result<_, _>>()?,
    })
}

/// Saves the consent settings (owners, step-up): `support.consent`. Allowing none ends every approved access.
#[allow(clippy::too_many_arguments)]
pub async fn set_consent(
    state: &AppState,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    _fresh: &SteppedUp,
    meta: &RequestMeta,
    allowed: bool,
    (vault, exports): (bool, bool),
    contact: &str,
) -> Result<(), AppError> {
    let contact = contact.trim();
    if !contact.is_empty() {
        crate::backend::identity::accounts::validate_email(contact)?;
    }
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    sqlx::query(
        "UPDATE tenants SET support_allowed = $1, support_vault_allowed = $2, support_exports_allowed = $3, \
         security_contact = $4 WHERE id = $5",
    )
    .bind(i64::from(allowed))
    .bind(i64::from(vault))
    .bind(i64::from(exports))
    .bind(contact)
    .bind(ctx.tenant_id().as_str())
    .execute(&mut *tx)
    .await?;
    if !allowed {
        sqlx::query(
            "UPDATE support_requests SET state = 'revoked', decided_by = $1, decided_at = $2 WHERE tenant_id = $3 \
             AND state IN ('pending', 'approved')",
        )
        .bind(ctx.actor())
        .bind(now)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    }
    let detail = format!(
        "support access {}; vault {}, exports {}; told: owners{}",
        if allowed { "allowed with consent" } else { "never" },
        if vault { "may be included" } else { "never" },
        if exports { "may be included" } else { "never" },
        if contact.is_empty() { String::new() } else { format!(" and {contact}") }
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "support.consent", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// An operator's request (`rampart support request`): refused when the organisation allows no support access.
/// Its owners (and security contact) are told by email; `support.requested`. Returns the request's id.
pub async fn request(
    state: &AppState,
    tenant: &str,
    operator: &str,
    reason: &str,
    hours: i64,
) -> Result<String, AppError> {
    let operator = operator.trim();
    let reason = reason.trim();
    if operator.is_empty() || operator.len() > 200 {
        return Err(AppError::validation("operator", "Name the operator who will look (at most 200 characters)."));
    }
    if reason.is_empty() || reason.len() > 1000 {
        return Err(AppError::validation("reason", "Say why (at most 1000 characters)."));
    }
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(AppError::validation("hours", format!("Ask for 1 to {MAX_HOURS} hours.")));
    }
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let t = sqlx::query(
        "SELECT id, name, support_allowed, security_contact FROM tenants WHERE (id = $1 OR name_key = $2) \
         AND closes_at IS NULL",
    )
    .bind(tenant.trim())
    .bind(tenant.trim().to_lowercase())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::validation("tenant", "No tenant has that id or name."))?;
    if t.try_get::<i64, _>("support_allowed")? != 1 {
        return Err(AppError::Conflict { msg: "This organisation allows no support access.".to_owned() });
    }
    let tenant_id = TenantId(t.try_get("id")?);
    let name: String = t.try_get("name")?;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO support_requests (id, tenant_id, operator, reason, hours, created_at, state) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
    )
    .bind(&id)
    .bind(tenant_id.as_str())
    .bind(operator)
    .bind(reason)
    .bind(hours)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let meta = RequestMeta { ip: String::new(), user_agent: "rampart support request".to_owned() };
    let detail = format!("{operator} asks to look at the console for {hours} h (request {id}): {reason}");
    let ev = NewEvent {
        tenant_id: Some(&tenant_id),
        account_id: None,
        actor: "platform operator",
        action: "support.requested",
        outcome: Outcome::Success,
        meta: &meta,
        detail: &detail,
        key_id: None,
    };
    audit::record(&mut tx, &state.keys, now, &ev).await?;
    let mut told: Vec<String> = sqlx::query_scalar(
        "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 \
         AND m.deactivated_at IS NULL AND m.role = 'owner'",
    )
    .bind(tenant_id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let contact: String = t.try_get("security_contact")?;
    if !contact.is_empty() && !told.contains(&contact) {
        told.push(contact);
    }
    let alert = crate::backend::alerts::Alert {
        kind: "support_requested",
        summary: "Platform support asks to look at your console".to_owned(),
        lines: vec![
            format!("{operator} of the platform's support asks to see the console of {name} for {hours} hours."),
            format!("Their reason: {reason}"),
            "Nothing is shown to them unless an owner approves it in Rampart under Security → Consent; you may \
             refuse, and end an approved access at any time."
                .to_owned(),
        ],
    };
    crate::backend::alerts::enqueue(&mut tx, now, &tenant_id, &name, &told, &alert).await?;
    tx.commit().await?;
    Ok(id)
}

/// A request of the organisation in state `from`, locked for the change.
async fn request_in(conn: &mut sqlx::AnyConnection, ctx: &TenantCtx, id: &str) -> Result<(String, i64), AppError> {
    let r = sqlx::query("SELECT operator, state, hours FROM support_requests WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let state: String = r.try_get("state")?;
    if state != "pending" {
        return Err(AppError::Conflict { msg: format!("This request is already {state}.") });
    }
    Ok((r.try_get("operator")?, r.try_get("hours")?))
}

/// Approves a request (owners, step-up) for `hours` (at most what was asked, and 72), including the vault's
/// contents or the exports only when ticked and the consent settings allow them: `support.approved`.
#[allow(clippy::too_many_arguments)]
pub async fn approve(
    state: &AppState,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    _fresh: &SteppedUp,
    meta: &RequestMeta,
    id: &str,
    hours: i64,
    (vault, exports): (bool, bool),
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let (operator, asked) = request_in(&mut tx, ctx, id).await?;
    if !(1..=asked.min(MAX_HOURS)).contains(&hours) {
        return Err(AppError::validation("hours", format!("Allow 1 to {} hours.", asked.min(MAX_HOURS))));
    }
    let t = sqlx::query(
        "SELECT support_allowed, support_vault_allowed, support_exports_allowed FROM tenants WHERE id = $1",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_one(&mut *tx)
    .await?;
    if t.try_get::<i64, _>("support_allowed")? != 1 {
        return Err(AppError::Conflict { msg: "The consent settings allow no support access.".to_owned() });
    }
    if (vault && t.try_get::<i64, _>("support_vault_allowed")? != 1)
        || (exports && t.try_get::<i64, _>("support_exports_allowed")? != 1)
    {
        return Err(AppError::Conflict {
            msg: "The consent settings keep the vault or the exports out of support access.".to_owned(),
        });
    }
    let until = now + hours * HOUR_MS;
    sqlx::query(
        "UPDATE support_requests SET state = 'approved', decided_by = $1, decided_at = $2, until = $3, \
         allow_vault = $4, allow_exports = $5 WHERE id = $6 AND tenant_id = $7 AND state = 'pending'",
    )
    .bind(ctx.actor())
    .bind(now)
    .bind(until)
    .bind(i64::from(vault))
    .bind(i64::from(exports))
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "{operator} may look for {hours} h, until {} (request {id}); vault {}, exports {}",
        crate::model::format_utc(until),
        if vault { "included" } else { "excluded" },
        if exports { "included" } else { "excluded" }
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "support.approved", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Refuses a waiting request (owners): `support.refused`.
pub async fn refuse(
    state: &AppState,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let (operator, _) = request_in(&mut tx, ctx, id).await?;
    sqlx::query(
        "UPDATE support_requests SET state = 'refused', decided_by = $1, decided_at = $2 WHERE id = $3 AND tenant_id = $4",
    )
    .bind(ctx.actor())
    .bind(now)
    .bind(id)
    .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{operator} (request {id})");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "support.refused", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends an approved access at once (any owner): the request is revoked, its sessions deleted, and every
/// instance forgets them (`support.revoked`).
pub async fn revoke(
    state: &AppState,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let operator: String = sqlx::query_scalar(
        "UPDATE support_requests SET state = 'revoked', decided_by = $1, decided_at = $2, link_digest = NULL \
         WHERE id = $3 AND tenant_id = $4 AND state IN ('approved', 'pending') RETURNING operator",
    )
    .bind(ctx.actor())
    .bind(now)
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND tenant_id = $2")
        .bind(format!("support:{id}"))
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{operator} (request {id}): access ended");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "support.revoked", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}
