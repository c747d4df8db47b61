//! The panic button: one owner action for "we think we are compromised", and its undo.
//!
//! Policy:
//! - Only an owner, stepped up within the last 10 minutes (password + second factor when enrolled), presses it.
//! - In one transaction it: revokes or freezes (the owner chooses) every live key of the tenant that can change
//!   data — master and write keys, and restricted keys with a write scope (canaries stay armed: they are traps,
//!   not access); ends every session of every member of the tenant, in any tenant (a stolen session elsewhere
//!   could otherwise switch into this one) and half-signed-in ones too, except the owner's own current session,
//!   which just proved itself and is needed to follow up; and turns on the tenant's two-factor requirement, so
//!   every member signs in again with a second factor and members without one enroll on the way in.
//! - It stops SFTP: live sessions end, the gateway refuses the tenant until an admin resumes it, and SSH
//!   certificates issued before the panic are refused for good.
//! - It writes one audit event, `tenant.panic`, listing everything it did (counts and key ids).
//! - Freezing is reversible: `tenant.panic_undo` unfreezes every frozen key (owner, step-up); an admin may also
//!   unfreeze one key (`key.unfreeze`, step-up). Revoking is not. Sessions and the two-factor requirement are
//!   not restored: members sign in again, and an admin may switch the requirement off on the security page.
//! - The key verification cache is emptied at once, so frozen and revoked keys are refused on the next request.

use crate::backend::access::{AdminHandle, OwnerHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{Access, ApiResource, AppError, KeyKind, PanicKeyAction, PanicReport, PanicView, Scopes};
use sqlx::{AnyConnection, Row as _};

/// A live key that can change data.
struct WriteKey {
    id: String,
    prefix: String,
}

/// Live (not revoked, not expired) keys of the tenant that can change data; `frozen` picks frozen or not.
async fn write_keys(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    now: i64,
    frozen: bool,
) -> Result<Vec<WriteKey>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT id, kind, scopes, display_prefix FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 AND frozen_at IS {} NULL ORDER BY created_at, id",
        if frozen { "NOT" } else { "" }
    ))
    .bind(ctx.tenant_id().as_str())
    .bind(now)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let kind: String = r.try_get("kind")?;
        let scopes: String = r.try_get("scopes")?;
        let writes = match KeyKind::parse(&kind) {
            Some(KeyKind::Master | KeyKind::Write) => true,
            Some(KeyKind::Canary) => false,
            // A restricted key with a write scope, or an unreadable row (treated as dangerous).
            _ => Scopes::from_text(&scopes)
                .is_none_or(|s| ApiResource::ALL.into_iter().any(|res| s.access(res) == Access::Write)),
        };
        if writes || frozen {
            out.push(WriteKey { id: r.try_get("id")?, prefix: r.try_get("display_prefix")? });
        }
    }
    Ok(out)
}

/// The emergency page (owners and admins see it; owners may press).
pub async fn get_panic(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    step_up_valid_until: Option<i64>,
) -> Result<PanicView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let frozen = write_keys(&mut conn, ctx, now, true).await?;
    let live = write_keys(&mut conn, ctx, now, false).await?;
    let last = sqlx::query(
        "SELECT created_at, detail FROM audit_events WHERE tenant_id = $1 AND action = 'tenant.panic' \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let last_panic = match last {
        Some(r) => Some((r.try_get("created_at")?, r.try_get("detail")?)),
        None => None,
    };
    Ok(PanicView {
        can_press: ctx.require_owner().is_ok(),
        frozen_keys: frozen.into_iter().map(|k| (k.prefix, k.id)).collect(),
        write_keys: i64::try_from(live.len()).unwrap_or(i64::MAX),
        step_up_valid_until,
        two_factor_enabled: crate::backend::identity::two_factor::is_enabled(&mut conn, ctx.account_id()).await?,
        last_panic,
    })
}

fn list(keys: &[WriteKey]) -> String {
    keys.iter().map(|k| format!("{} ({})", k.prefix, k.id)).collect::<Vec<_>>().join(", ")
}

/// Presses the panic button. `keep_session` is the id hash of the owner's current session.
pub async fn press(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    _proof: &SteppedUp,
    action: PanicKeyAction,
    keep_session: Option<&str>,
) -> Result<PanicReport, AppError> {
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let keys = write_keys(&mut tx, ctx, now, false).await?;
    let mut keys_to_revoke = keys;
    if action == PanicKeyAction::Revoke {
        // Keys an earlier press froze are revoked too.
        keys_to_revoke.extend(write_keys(&mut tx, ctx, now, true).await?);
    }
    let set = match action {
        PanicKeyAction::Freeze => "frozen_at",
        PanicKeyAction::Revoke => "revoked_at",
    };
    for k in &keys_to_revoke {
        sqlx::query(&format!("UPDATE api_keys SET {set} = $1 WHERE id = $2 AND tenant_id = $3"))
            .bind(now)
            .bind(&k.id)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
    }
    // Every way in that works without a session: invitations (an intruder's own, as admin), enrolment tokens,
    // public links to the vault.
    let doors = super::doors::close_all(&mut tx, ctx.tenant_id(), now).await?;
    // This organisation's sessions, and its members' half-signed-in ones (password given, no organisation
    // chosen yet): never their sessions in another organisation, which this one's owner does not govern.
    let sessions_ended = sqlx::query(
        "DELETE FROM sessions WHERE id_hash <> $2 AND (tenant_id = $1 OR (tenant_id IS NULL AND account_id IN \
         (SELECT account_id FROM memberships WHERE tenant_id = $1)))",
    )
    .bind(tenant)
    .bind(keep_session.unwrap_or(""))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let row = sqlx::query(
        "SELECT (SELECT require_two_factor FROM tenants WHERE id = $1) AS required, \
         (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND deactivated_at IS NULL) AS members, \
         (SELECT COUNT(*) FROM memberships m WHERE m.tenant_id = $1 AND m.deactivated_at IS NULL AND NOT EXISTS \
          (SELECT 1 FROM totp_factors f WHERE f.account_id = m.account_id AND f.enabled_at IS NOT NULL)) AS to_enroll",
    )
    .bind(tenant)
    .fetch_one(&mut *tx)
    .await?;
    let was_required = row.try_get::<i64, _>("required")? == 1;
    // SFTP stops too: its sessions end (the checker sees the panic), it stays paused until an admin resumes it,
    // and certificates issued until now are refused for good.
    sqlx::query("UPDATE tenants SET require_two_factor = 1, last_panic_at = $2, sftp_paused_at = $2 WHERE id = $1")
        .bind(tenant)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let mut report = PanicReport {
        sessions_ended,
        members: row.try_get("members")?,
        members_to_enroll: row.try_get("to_enroll")?,
        two_factor_was_required: was_required,
        ..PanicReport::default()
    };
    let ids: Vec<String> = keys_to_revoke.iter().map(|k| k.id.clone()).collect();
    match action {
        PanicKeyAction::Freeze => report.frozen_keys = ids,
        PanicKeyAction::Revoke => report.revoked_keys = ids,
    }
    let detail = format!(
        "panic button: keys {} ({}): [{}]; sessions ended: {} (the owner's current session kept); two-factor \
         authentication required for all {} member(s) (was {}), {} without an authenticator enroll at next sign-in; \
         SFTP paused and its sessions ended, certificates issued before now refused; {}",
        if action == PanicKeyAction::Freeze { "frozen" } else { "revoked" },
        keys_to_revoke.len(),
        list(&keys_to_revoke),
        sessions_ended,
        report.members,
        if was_required { "already on" } else { "off" },
        report.members_to_enroll,
        doors.describe(),
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "tenant.panic", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    tracing::warn!(tenant = %ctx.tenant_id(), keys = keys_to_revoke.len(), sessions_ended, "panic button pressed");
    Ok(report)
}

/// Unfreezes every frozen key of the tenant (owner, step-up): `tenant.panic_undo`. Returns the key ids.
pub async fn undo(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    _proof: &SteppedUp,
) -> Result<Vec<String>, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let frozen = write_keys(&mut tx, ctx, now, true).await?;
    sqlx::query("UPDATE api_keys SET frozen_at = NULL WHERE tenant_id = $1 AND frozen_at IS NOT NULL")
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("keys unfrozen ({}): [{}]", frozen.len(), list(&frozen));
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "tenant.panic_undo", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(frozen.into_iter().map(|k| k.id).collect())
}

/// Unfreezes one key (admin, step-up): `key.unfreeze`.
pub async fn unfreeze_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    key_id: &str,
) -> Result<(), AppError> {
    if key_id.len() > 64 {
        return Err(AppError::NotFound);
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT display_prefix FROM api_keys WHERE id = $1 AND tenant_id = $2 AND frozen_at IS NOT NULL \
         AND revoked_at IS NULL",
    )
    .bind(key_id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let prefix: String = row.try_get("display_prefix")?;
    sqlx::query("UPDATE api_keys SET frozen_at = NULL WHERE id = $1 AND tenant_id = $2")
        .bind(key_id)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("key {prefix} unfrozen");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "key.unfreeze", Outcome::Success, &detail).with_key(key_id),
    )
    .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}
