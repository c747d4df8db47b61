//! Reading and changing a tenant's network rules (owners and admins, step-up for changes).

use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::keys::guard::{self, Cidr};
use crate::backend::platform::clock::DAY_MS;
use crate::backend::platform::ids::new_event_id;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, IpBlockView, IpRulesView};
use sqlx::Row as _;
use std::net::IpAddr;

/// Most entries on a tenant's block list (expired ones included until removed).
pub const MAX_BLOCKS: i64 = 1_000;
/// Longest reason.
const MAX_REASON: usize = 200;
/// Longest block with an end (a permanent block has none).
const MAX_BLOCK_DAYS: i64 = 3_650;

/// The tenant's rules, for its admins; `your_ip` and the step-up state come from the request.
pub async fn get_rules(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    your_ip: IpAddr,
    step_up_valid_until: Option<i64>,
) -> Result<IpRulesView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let rows = sqlx::query(
        "SELECT id, cidr, reason, created_by, created_at, expires_at FROM ip_blocks WHERE tenant_id = $1 \
         ORDER BY created_at DESC, id",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut blocks = Vec::with_capacity(rows.len());
    for r in rows {
        let expires_at: Option<i64> = r.try_get("expires_at")?;
        blocks.push(IpBlockView {
            id: r.try_get("id")?,
            cidr: r.try_get("cidr")?,
            reason: r.try_get("reason")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            expires_at,
            active: expires_at.is_none_or(|e| e > now),
        });
    }
    let allow: String = sqlx::query("SELECT console_allowed_ips FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *conn)
        .await?
        .try_get("console_allowed_ips")?;
    let two_factor_enabled = crate::backend::identity::two_factor::is_enabled(&mut conn, ctx.account_id()).await?;
    Ok(IpRulesView {
        blocks,
        console_allowed_ips: allow.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        your_ip: your_ip.to_string(),
        step_up_valid_until,
        two_factor_enabled,
    })
}

fn check_reason(reason: &str) -> Result<String, AppError> {
    crate::backend::platform::text::one_line(reason, MAX_REASON).map(str::to_owned).ok_or_else(|| {
        AppError::validation(
            "reason",
            format!("Say why the address is blocked, in one line of 1 to {MAX_REASON} characters."),
        )
    })
}

/// Blocks an address or CIDR block on the console and the API (admin, step-up); `expires_in_days` `None`
/// blocks until removed. A block that covers the admin's own address is refused.
#[allow(clippy::too_many_arguments)]
pub async fn add_block(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    your_ip: IpAddr,
    cidr: &str,
    reason: &str,
    expires_in_days: Option<i64>,
) -> Result<IpBlockView, AppError> {
    if cidr.trim().is_empty() {
        return Err(AppError::validation("cidr", "Enter an IP address or CIDR block."));
    }
    let block: Cidr = cidr.trim().parse().map_err(|m: String| AppError::validation("cidr", m))?;
    let reason = check_reason(reason)?;
    if let Some(days) = expires_in_days {
        if !(1..=MAX_BLOCK_DAYS).contains(&days) {
            return Err(AppError::validation(
                "expires_in_days",
                format!("A block ends after 1 to {MAX_BLOCK_DAYS} days; leave it empty to block until removed."),
            ));
        }
    }
    if block.contains(your_ip) {
        return Err(AppError::validation(
            "cidr",
            format!("{block} contains your own address ({your_ip}): you would lock yourself out."),
        ));
    }
    let now = state.clock.now_ms();
    let expires_at = expires_in_days.map(|d| now + d * DAY_MS);
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM ip_blocks WHERE tenant_id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    if count >= MAX_BLOCKS {
        return Err(AppError::Conflict {
            msg: format!("The block list holds at most {MAX_BLOCKS} entries: remove expired or broader ones first."),
        });
    }
    let id = new_event_id();
    sqlx::query(
        "INSERT INTO ip_blocks (id, tenant_id, cidr, reason, created_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(ctx.tenant_id().as_str())
    .bind(block.to_string())
    .bind(&reason)
    .bind(ctx.actor())
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    let until = match expires_at {
        Some(_) => format!("for {} day(s)", expires_in_days.unwrap_or_default()),
        None => "until removed".to_owned(),
    };
    let detail = format!("blocked {block} {until}: {reason}");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "ip_block.add", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(IpBlockView {
        id,
        cidr: block.to_string(),
        reason,
        created_by: ctx.actor().to_owned(),
        created_at: now,
        expires_at,
        active: true,
    })
}

/// Removes an entry of the block list (admin, step-up).
pub async fn remove_block(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    id: &str,
) -> Result<(), AppError> {
    if id.len() > 64 {
        return Err(AppError::NotFound);
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query("SELECT cidr, reason FROM ip_blocks WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let cidr: String = row.try_get("cidr")?;
    let reason: String = row.try_get("reason")?;
    sqlx::query("DELETE FROM ip_blocks WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("unblocked {cidr} (was: {reason})");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "ip_block.remove", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Replaces the console allow list (admin, step-up). An empty list opens the console to every address not
/// blocked; a list that does not contain `your_ip` is refused and nothing is saved.
pub async fn set_console_allow_list(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    your_ip: IpAddr,
    text: &str,
) -> Result<Vec<String>, AppError> {
    let list = guard::parse_list::<Cidr>(text).map_err(|m| AppError::validation("allowed_ips", m))?;
    if !list.is_empty() && !list.iter().any(|c| c.contains(your_ip)) {
        return Err(AppError::validation(
            "allowed_ips",
            format!(
                "The list does not contain your current address ({your_ip}): saving it would lock you out. \
                 Add it (or its network), then save."
            ),
        ));
    }
    let stored = guard::join_list(&list);
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let before: String = sqlx::query("SELECT console_allowed_ips FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("console_allowed_ips")?;
    sqlx::query("UPDATE tenants SET console_allowed_ips = $1 WHERE id = $2")
        .bind(&stored)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let show = |s: &str| if s.is_empty() { "anywhere".to_owned() } else { format!("[{s}]") };
    let detail = format!("console allowed from {} → {}", show(&before), show(&stored));
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "console_allow_list.update", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(list.iter().map(ToString::to_string).collect())
}

/// The operator's break-glass (`rampart tenant open-console`): empties the console allow list of a tenant named
/// by id or name, for admins whose addresses changed under them. Block list entries stay. Returns the list
/// that was removed.
pub async fn operator_open_console(state: &AppState, tenant: &str) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query("SELECT id, console_allowed_ips FROM tenants WHERE id = $1 OR name_key = $2")
        .bind(tenant.trim())
        .bind(tenant.trim().to_lowercase())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::validation("tenant", "No tenant has that id or name."))?;
    let tenant_id = crate::backend::platform::ids::TenantId(row.try_get("id")?);
    let before: String = row.try_get("console_allowed_ips")?;
    sqlx::query("UPDATE tenants SET console_allowed_ips = '' WHERE id = $1")
        .bind(tenant_id.as_str())
        .execute(&mut *tx)
        .await?;
    let meta = RequestMeta { ip: "operator".to_owned(), user_agent: "rampart cli".to_owned() };
    let detail = format!("console allowed from [{before}] → anywhere (operator break-glass)");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&tenant_id),
            account_id: None,
            actor: "operator",
            action: "console_allow_list.update",
            outcome: Outcome::Success,
            meta: &meta,
            detail: &detail,
            key_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(before)
}
