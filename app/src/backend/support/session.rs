//! The operator's way in: a one-time link for an approved request (`rampart support open`, valid 15 minutes,
//! kept as its SHA-256 only) that starts a support session in the browser that opens it. The session is read
//! only (the gate refuses every write and every server function not in `policy::SUPPORT_READS`), checked against
//! its request on every request (revoked or past its end: signed out at once), and every page it views is
//! recorded in the organisation's access history.

use crate::backend::access::TenantCtx;
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::clock::MINUTE_MS;
use crate::backend::platform::crypto::{random_token, token_digest};
use crate::backend::platform::db::begin_write;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::Row as _;

/// How long a link works.
pub const LINK_TTL_MS: i64 = 15 * MINUTE_MS;

/// What a live support session may reach besides the console's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    pub vault: bool,
    pub exports: bool,
    /// When the access ends (epoch ms).
    pub until: i64,
}

/// Makes the one-time link of an approved, unexpired request (the CLI prints it); a new link replaces the
/// last. Returns the token.
pub async fn open_link(state: &AppState, id: &str) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let token = random_token();
    let done = sqlx::query(
        "UPDATE support_requests SET link_digest = $1, link_expires_at = $2 WHERE id = $3 AND state = 'approved' \
         AND until > $4",
    )
    .bind(token_digest(&token))
    .bind(now + LINK_TTL_MS)
    .bind(id)
    .bind(now)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict {
            msg: "No approved, unexpired support request has that id: ask the organisation's owners.".to_owned(),
        });
    }
    Ok(token)
}

/// Trades a link for a support context (once): `support.session_started`.
pub async fn start(state: &AppState, token: &str, meta: &RequestMeta) -> Result<TenantCtx, AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let r = sqlx::query(
        "SELECT s.id, s.tenant_id, s.operator, t.name FROM support_requests s JOIN tenants t ON t.id = s.tenant_id \
         WHERE s.link_digest = $1 AND s.link_expires_at > $2 AND s.state = 'approved' AND s.until > $2",
    )
    .bind(token_digest(token))
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let id: String = r.try_get("id")?;
    // The one write that decides: only the request still holding this link's digest trades it. On PostgreSQL two
    // requests racing both read the row above; the second's UPDATE waits for the first and then finds no digest.
    let taken = sqlx::query(
        "UPDATE support_requests SET link_digest = NULL, link_expires_at = NULL WHERE id = $1 AND link_digest = $2",
    )
    .bind(&id)
    .bind(token_digest(token))
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    let operator: String = r.try_get("operator")?;
    let ctx = TenantCtx::for_support(id.clone(), &operator, TenantId(r.try_get("tenant_id")?), r.try_get("name")?);
    let detail = format!("request {id}: a read-only support session began");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(&ctx, meta, "support.session_started", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(ctx)
}

/// What the support session of request `id` may reach now, or `None` when it must end (revoked, past its end,
/// support no longer allowed). The vault and the exports need both the approval and the organisation's consent
/// as it stands now: consent to them withdrawn ends them for approved sessions too.
pub async fn reach(state: &AppState, id: &str) -> Result<Option<Reach>, AppError> {
    let r = sqlx::query(
        "SELECT s.until, s.allow_vault * t.support_vault_allowed AS allow_vault, \
         s.allow_exports * t.support_exports_allowed AS allow_exports \
         FROM support_requests s JOIN tenants t ON t.id = s.tenant_id \
         WHERE s.id = $1 AND s.state = 'approved' AND s.until > $2 AND t.support_allowed = 1",
    )
    .bind(id)
    .bind(state.clock.now_ms())
    .fetch_optional(&state.pool)
    .await?;
    let Some(r) = r else { return Ok(None) };
    Ok(Some(Reach {
        vault: r.try_get::<i64, _>("allow_vault")? == 1,
        exports: r.try_get::<i64, _>("allow_exports")? == 1,
        until: r.try_get("until")?,
    }))
}

/// Records a page a support session viewed (`support.page_view`, the path without its query).
pub async fn viewed(state: &AppState, ctx: &TenantCtx, meta: &RequestMeta, path: &str) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let detail: String = path.chars().take(300).collect();
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "support.page_view", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(())
}
