//! One endpoint's deliveries as its page shows them — each with every attempt (time, status, duration, the
//! answer's first 1 KiB) — and "redeliver": a delivery sent again with the same `webhook-id`, on a fresh
//! retry schedule (`webhook.redelivered`).

use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, WebhookAttemptView, WebhookDeliveriesView, WebhookDeliveryView};
use sqlx::Row as _;
use std::collections::HashMap;

/// The deliveries the page shows.
pub const SHOWN: i64 = 50;

/// An endpoint of the caller's organisation with its latest deliveries, newest event first.
pub async fn deliveries(
    state: &AppState,
    ctx: &TenantCtx,
    admin: &AdminHandle,
    endpoint: &str,
) -> Result<WebhookDeliveriesView, AppError> {
    let tenant = ctx.tenant_id().as_str();
    let view = super::endpoints::list(state, ctx, admin).await?;
    let endpoint = view.endpoints.into_iter().find(|e| e.id == endpoint).ok_or(AppError::NotFound)?;
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND tenant_id = $2")
            .bind(&endpoint.id)
            .bind(tenant)
            .fetch_one(&state.pool)
            .await?;
    let rows = sqlx::query(&format!(
        "SELECT d.id, d.seq, d.status, d.next_attempt_at, d.created_at, e.action FROM webhook_deliveries d \
         LEFT JOIN audit_events e ON e.id = d.event_id AND e.tenant_id = d.tenant_id \
         WHERE d.endpoint_id = $1 AND d.tenant_id = $2 ORDER BY d.seq DESC LIMIT {SHOWN}"
    ))
    .bind(&endpoint.id)
    .bind(tenant)
    .fetch_all(&state.pool)
    .await?;
    let attempts = sqlx::query(&format!(
        "SELECT delivery_id, attempted_at, status, duration_ms, response FROM webhook_attempts WHERE tenant_id = $2 \
         AND delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND tenant_id = $2 \
         ORDER BY seq DESC LIMIT {SHOWN}) ORDER BY attempted_at"
    ))
    .bind(&endpoint.id)
    .bind(tenant)
    .fetch_all(&state.pool)
    .await?;
    let mut by_delivery: HashMap<String, Vec<WebhookAttemptView>> = HashMap::new();
    for a in attempts {
        by_delivery.entry(a.try_get("delivery_id")?).or_default().push(WebhookAttemptView {
            attempted_at: a.try_get("attempted_at")?,
            status: a.try_get("status")?,
            duration_ms: a.try_get("duration_ms")?,
            response: a.try_get("response")?,
        });
    }
    let mut deliveries = Vec::with_capacity(rows.len());
    for r in rows {
        let id: String = r.try_get("id")?;
        let status: String = r.try_get("status")?;
        let next: i64 = r.try_get("next_attempt_at")?;
        deliveries.push(WebhookDeliveryView {
            attempts: by_delivery.remove(&id).unwrap_or_default(),
            id,
            action: r.try_get("action")?,
            seq: r.try_get("seq")?,
            next_attempt_at: (status == "pending").then_some(next),
            status,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(WebhookDeliveriesView { endpoint, deliveries, total })
}

/// Sends a delivery again: the same `webhook-id` and event, due now, with a fresh retry schedule. The endpoint
/// must be enabled.
pub async fn redeliver(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    endpoint: &str,
    delivery: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT w.url, w.enabled FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id \
         WHERE d.id = $1 AND d.endpoint_id = $2 AND d.tenant_id = $3 AND w.tenant_id = $3",
    )
    .bind(delivery)
    .bind(endpoint)
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.try_get::<i64, _>("enabled")? != 1 {
        return Err(AppError::Conflict { msg: "The endpoint is disabled: enable it first.".to_owned() });
    }
    let url: String = row.try_get("url")?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, done_at = NULL \
         WHERE id = $2 AND tenant_id = $3",
    )
    .bind(now)
    .bind(delivery)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    let detail = format!("{delivery} to {url}");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "webhook.redelivered", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
