//! A tenant's webhook endpoints (owners and admins, stepped up to add or remove one): the URL (checked like
//! every delivery, `address`), a description, the action families wanted, enabled or not. The signing secret is
//! made here, returned once, and kept sealed under the master key. Every change is an access-history event
//! (`webhook.created`, `webhook.deleted`).

use super::address;
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, FreshWebhookSecret, WebhookEndpointView, WebhooksView};
use base64::Engine as _;
use sqlx::Row as _;

/// The most endpoints a tenant keeps.
pub const MAX_ENDPOINTS: i64 = 20;

fn aad(tenant: &str, id: &str) -> String {
    format!("webhook-secret\n{tenant}\n{id}")
}

/// Checks an event list: `*`, or comma-separated action families (`sign_in,key,member`).
pub fn events(input: &str) -> Result<String, AppError> {
    let input = input.trim();
    if input == "*" {
        return Ok("*".to_owned());
    }
    let families: Vec<&str> = input.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    let ok = !families.is_empty()
        && families.len() <= 30
        && families.iter().all(|f| f.len() <= 40 && f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    if !ok {
        return Err(AppError::validation("events", "Give `*` or event families like sign_in,key,member."));
    }
    Ok(families.join(","))
}

/// Adds an endpoint; returns it with its secret (shown this once).
#[allow(clippy::too_many_arguments)]
pub async fn create(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    meta: &RequestMeta,
    url: &str,
    description: &str,
    wanted: &str,
) -> Result<FreshWebhookSecret, AppError> {
    let url = url.trim();
    if url.len() > 2000 {
        return Err(AppError::validation("url", "The URL is longer than 2000 characters."));
    }
    address::resolve(url, state.webhooks.allow_loopback).await.map_err(|why| AppError::validation("url", why))?;
    let description: String = description.trim().chars().take(200).collect();
    let wanted = events(wanted)?;
    let tenant = ctx.tenant_id().as_str();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = new_secret();
    let (key_id, sealed) = state.keys.seal(aad(tenant, &id).as_bytes(), secret.as_bytes())?;
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?;
    if n >= MAX_ENDPOINTS {
        return Err(AppError::Conflict { msg: format!("An organisation keeps at most {MAX_ENDPOINTS} endpoints.") });
    }
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(url)
    .bind(&description)
    .bind(&wanted)
    .bind(&sealed)
    .bind(&key_id)
    .bind(now)
    .bind(ctx.actor())
    .execute(&mut *tx)
    .await?;
    let detail = format!("{url} ({wanted})");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "webhook.created", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(FreshWebhookSecret { endpoint_id: id, url: url.to_owned(), secret })
}

/// The tenant's endpoints, oldest first, with their pending deliveries and last attempt.
pub async fn list(state: &AppState, ctx: &TenantCtx, _admin: &AdminHandle) -> Result<WebhooksView, AppError> {
    let rows = sqlx::query(
        "SELECT w.id, w.url, w.description, w.events, w.enabled, w.disabled_reason, w.created_at, \
         (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending') AS pending \
         FROM webhook_endpoints w WHERE w.tenant_id = $1 ORDER BY w.created_at, w.id",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    let mut endpoints = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let last = sqlx::query(
            "SELECT a.attempted_at, a.status, a.response FROM webhook_attempts a JOIN webhook_deliveries d \
             ON d.id = a.delivery_id WHERE d.endpoint_id = $1 AND a.tenant_id = $2 ORDER BY a.attempted_at DESC LIMIT 1",
        )
        .bind(&id)
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&state.pool)
        .await?;
        let last_attempt = match last {
            Some(a) => Some((a.try_get("attempted_at")?, a.try_get("status")?, a.try_get("response")?)),
            None => None,
        };
        endpoints.push(WebhookEndpointView {
            id,
            url: r.try_get("url")?,
            description: r.try_get("description")?,
            events: r.try_get("events")?,
            enabled: r.try_get::<i64, _>("enabled")? == 1,
            disabled_reason: r.try_get("disabled_reason")?,
            created_at: r.try_get("created_at")?,
            pending: r.try_get("pending")?,
            last_attempt,
        });
    }
    Ok(WebhooksView { endpoints })
}

const FRESH_SECRET: &str = "fresh_webhook_secret";

/// Keeps a new endpoint's secret in the session (sealed) until the page takes it (`take_fresh`).
pub async fn stash_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    fresh: &FreshWebhookSecret,
) -> Result<(), AppError> {
    let labels = (fresh.endpoint_id.as_str(), fresh.url.as_str());
    crate::backend::identity::sessions::fresh::stash(state, session, ctx, FRESH_SECRET, labels, &fresh.secret).await
}

/// Takes the new secret out of the session: shown once, a reload finds nothing.
pub async fn take_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
) -> Result<Option<FreshWebhookSecret>, AppError> {
    let taken = crate::backend::identity::sessions::fresh::take(state, session, ctx, FRESH_SECRET).await?;
    Ok(taken.map(|((endpoint_id, url), secret)| FreshWebhookSecret { endpoint_id, url, secret }))
}

/// Sends a test event (`webhook.test`, recorded like any other) to one endpoint, whatever families it wants
/// (other endpoints that want the `webhook` family receive it too).
pub async fn send_test(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let (url, enabled): (String, i64) =
        sqlx::query_as("SELECT url, enabled FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(AppError::NotFound)?;
    if enabled != 1 {
        return Err(AppError::Conflict { msg: "The endpoint is disabled: enable it first.".to_owned() });
    }
    let detail = format!("a test event for {url}");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "webhook.test", Outcome::Success, &detail))
        .await?;
    // The event just recorded (the chain's head is held by this transaction), delivered to this endpoint even
    // when it does not want the family; the delivery id is the same as the outbox would give it.
    let row = sqlx::query(
        "SELECT id, seq FROM audit_events WHERE tenant_id = $1 AND action = 'webhook.test' ORDER BY seq DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_one(&mut *tx)
    .await?;
    let (event, seq): (String, i64) = (row.try_get("id")?, row.try_get("seq")?);
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, seq, status, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("msg_{event}_{id}"))
    .bind(tenant)
    .bind(id)
    .bind(&event)
    .bind(seq)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The longest overlap of a rotated secret, in hours (a week).
pub const MAX_OVERLAP_HOURS: i64 = 168;

/// Gives an endpoint a new secret (returned once); the old one keeps signing beside it for `overlap_hours`
/// (0 to 168), so receivers can switch without losing a delivery: `webhook.secret_rotated`.
#[allow(clippy::too_many_arguments)]
pub async fn rotate(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    meta: &RequestMeta,
    id: &str,
    overlap_hours: i64,
) -> Result<FreshWebhookSecret, AppError> {
    if !(0..=MAX_OVERLAP_HOURS).contains(&overlap_hours) {
        return Err(AppError::validation("overlap_hours", "Keep the old secret 0 to 168 hours (a week)."));
    }
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let secret = new_secret();
    let (key_id, sealed) = state.keys.seal(aad(tenant, id).as_bytes(), secret.as_bytes())?;
    let mut tx = begin_write(&state.pool).await?;
    let url: String = sqlx::query_scalar(
        "UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_secret_key_id = secret_key_id, \
         previous_until = $1, secret_sealed = $2, secret_key_id = $3 WHERE id = $4 AND tenant_id = $5 RETURNING url",
    )
    .bind(now + overlap_hours * crate::backend::platform::clock::HOUR_MS)
    .bind(&sealed)
    .bind(&key_id)
    .bind(id)
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let detail = format!("{url}: the old secret signs beside the new one for {overlap_hours} h");
    let event = NewEvent::by(ctx, meta, "webhook.secret_rotated", Outcome::Success, &detail);
    audit::record(&mut tx, &state.keys, now, &event).await?;
    tx.commit().await?;
    Ok(FreshWebhookSecret { endpoint_id: id.to_owned(), url, secret })
}

fn new_secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(crate::backend::platform::crypto::random_bytes::<32>())
    )
}

/// Removes an endpoint; its pending deliveries are dropped with it.
pub async fn delete(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    cleared: &crate::backend::access::four_eyes::Cleared,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    cleared.covers(&crate::backend::access::four_eyes::Act::DeleteWebhook { webhook_id: id.to_owned() })?;
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let url: String =
        sqlx::query_scalar("DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 RETURNING url")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(AppError::NotFound)?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', done_at = $1 WHERE endpoint_id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "webhook.deleted", Outcome::Success, &url))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// An endpoint's secret, opened for signing.
pub(super) fn open_secret(
    state: &AppState,
    tenant: &str,
    id: &str,
    key_id: &str,
    sealed: &str,
) -> Result<Vec<u8>, AppError> {
    let secret = state.keys.open(key_id, aad(tenant, id).as_bytes(), sealed)?;
    let text = String::from_utf8(secret).map_err(|_| AppError::Unavailable)?;
    super::secret_bytes(&text).ok_or(AppError::Unavailable)
}

/// Enables or disables an endpoint (`webhook.enabled`, `webhook.disabled`). Disabled, it is sent nothing and
/// new events are not queued for it; what already waited goes out once it is enabled again, which also ends
/// its failing streak. Disabling is a four-eyes act (`Cleared`): it silences the receiver that would hear of
/// everything done next.
#[allow(clippy::too_many_arguments)]
pub async fn set_enabled(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    cleared: &crate::backend::access::four_eyes::Cleared,
    meta: &RequestMeta,
    id: &str,
    enabled: bool,
) -> Result<(), AppError> {
    cleared
        .covers(&crate::backend::access::four_eyes::Act::WebhookEnabled { webhook_id: id.to_owned(), on: enabled })?;
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let reason = format!("disabled by {}", ctx.actor());
    let mut tx = begin_write(&state.pool).await?;
    let url: String = sqlx::query_scalar(
        "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2, failing_since = NULL \
         WHERE id = $3 AND tenant_id = $4 RETURNING url",
    )
    .bind(i64::from(enabled))
    .bind((!enabled).then_some(reason))
    .bind(id)
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let action = if enabled { "webhook.enabled" } else { "webhook.disabled" };
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, action, Outcome::Success, &url)).await?;
    tx.commit().await?;
    Ok(())
}
