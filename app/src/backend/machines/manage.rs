//! The Machines page's list, revoking a machine, and the start-up check for "machines only" keys.

use super::enrol::short;
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, MachineTokenView, MachineView, MachinesView};
use sqlx::Row as _;

fn ranges(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The tenant's machines (newest first, revoked ones after the active), its waiting tokens and its CA.
pub async fn list(state: &AppState, ctx: &TenantCtx, _admin: &AdminHandle) -> Result<MachinesView, AppError> {
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    // Each machine with its newest certificate.
    let rows = sqlx::query(
        "SELECT m.id, m.name, m.source_range, m.cert_days, m.created_by, m.created_at, m.revoked_at, m.revoked_by, \
         m.last_seen_at, m.last_seen_ip, c.fingerprint, c.not_before, c.not_after FROM machines m \
         JOIN machine_certs c ON c.machine_id = m.id AND c.tenant_id = m.tenant_id \
         WHERE m.tenant_id = $1 AND c.issued_at = (SELECT MAX(c2.issued_at) FROM machine_certs c2 \
         WHERE c2.machine_id = m.id AND c2.tenant_id = m.tenant_id) \
         ORDER BY CASE WHEN m.revoked_at IS NULL THEN 0 ELSE 1 END, m.created_at DESC, m.id",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let mut machines: Vec<MachineView> = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        // Two certificates issued in the same millisecond: the first row stands for the machine.
        if machines.last().is_some_and(|m| m.id == id) {
            continue;
        }
        let revoked_at: Option<i64> = r.try_get("revoked_at")?;
        let not_before: i64 = r.try_get("not_before")?;
        let not_after: i64 = r.try_get("not_after")?;
        machines.push(MachineView {
            id,
            name: r.try_get("name")?,
            source_range: ranges(&r.try_get::<String, _>("source_range")?),
            cert_days: r.try_get("cert_days")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            fingerprint: r.try_get("fingerprint")?,
            not_after,
            renewal_due: revoked_at.is_none() && super::renewal_due(not_before, not_after, now),
            revoked_at,
            revoked_by: r.try_get("revoked_by")?,
            last_seen_at: r.try_get("last_seen_at")?,
            last_seen_ip: r.try_get("last_seen_ip")?,
        });
    }
    let rows = sqlx::query(
        "SELECT id, name, source_range, cert_days, created_by, created_at, expires_at FROM machine_tokens \
         WHERE tenant_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id",
    )
    .bind(tenant)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut tokens = Vec::with_capacity(rows.len());
    for r in &rows {
        tokens.push(MachineTokenView {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            source_range: ranges(&r.try_get::<String, _>("source_range")?),
            cert_days: r.try_get("cert_days")?,
            created_by: r.try_get("created_by")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
        });
    }
    let ca = super::ca::certificate(&mut conn, tenant).await?;
    Ok(MachinesView {
        machines,
        tokens,
        ca_fingerprint: ca.as_ref().map(|(_, f)| f.clone()),
        ca_pem: ca.map(|(pem, _)| pem),
        client_certs: state.machine_certs,
        api_origin: state.public_url.to_string(),
    })
}

/// Revokes a machine: every certificate of it is refused from the next request on.
pub async fn revoke(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    machine_id: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let name: String =
        sqlx::query_scalar("SELECT name FROM machines WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL")
            .bind(machine_id)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(AppError::NotFound)?;
    sqlx::query("UPDATE machines SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(now)
        .bind(ctx.actor())
        .bind(machine_id)
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    let detail = format!("“{name}” ({})", short(machine_id));
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "machine.revoked", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Whether any key not revoked is "machines only" (a server behind a TLS-terminating proxy refuses to start
/// with one: it would never see a machine certificate, and must not pretend to check one).
pub async fn machines_only_keys(pool: &sqlx::AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE machines_only = 1 AND revoked_at IS NULL")
        .fetch_one(pool)
        .await
}
