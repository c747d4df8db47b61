//! "Your sessions": listing a member's signed-in sessions (browser and OS from the user agent, IP, when it
//! signed in, when it was last active) and ending them — one, every other one, or (admins) a member's sessions
//! in their tenant. Ending deletes the row, so the revoked browser is refused on its very next request.

use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::organisation::members::member_account;
use crate::backend::platform::ids::{AccountId, MembershipId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, SessionView};
use sqlx::Row as _;

/// Browser and operating system in words, from a user agent (woothee's database of agents).
pub fn describe_agent(ua: &str) -> (String, String) {
    match woothee::parser::Parser::new().parse(ua) {
        Some(r) if r.name != "UNKNOWN" => {
            let browser = if r.version.is_empty() || r.version == "UNKNOWN" {
                r.name.to_owned()
            } else {
                format!("{} {}", r.name, r.version.split('.').next().unwrap_or(""))
            };
            let os = if r.os == "UNKNOWN" { "unknown system".to_owned() } else { r.os.to_owned() };
            (browser, os)
        }
        _ if ua.is_empty() => ("Unknown browser".to_owned(), "unknown system".to_owned()),
        _ => (ua.chars().take(40).collect(), "unknown system".to_owned()),
    }
}

async fn list(
    state: &AppState,
    account: &AccountId,
    tenant: Option<&str>,
    current: Option<&str>,
) -> Result<Vec<SessionView>, AppError> {
    let now = state.clock.now_ms();
    // Only sessions that are still alive by the same rules the gate applies (idle and absolute timeouts).
    let rows = sqlx::query(
        "SELECT s.id_hash, s.ip, s.user_agent, s.authenticated_at, s.updated_at, t.name FROM sessions s \
         JOIN tenants t ON t.id = s.tenant_id \
         WHERE s.account_id = $1 AND s.tenant_id IS NOT NULL AND ($2 = '' OR s.tenant_id = $2) \
         AND s.updated_at > $3 AND s.authenticated_at > $4 ORDER BY s.updated_at DESC, s.id_hash",
    )
    .bind(account.as_str())
    .bind(tenant.unwrap_or(""))
    .bind(now - state.timeouts.idle_ms)
    .bind(now - state.timeouts.absolute_ms)
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id_hash")?;
            let ua: String = r.try_get("user_agent")?;
            let (browser, os) = describe_agent(&ua);
            Ok(SessionView {
                current: current == Some(id.as_str()),
                id,
                browser,
                os,
                ip: r.try_get("ip")?,
                tenant_name: r.try_get("name")?,
                signed_in_at: r.try_get("authenticated_at")?,
                last_active_at: r.try_get("updated_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The signed-in account's own sessions, in every tenant; `current` (this session's id hash) is marked.
pub async fn list_own(state: &AppState, ctx: &TenantCtx, current: Option<&str>) -> Result<Vec<SessionView>, AppError> {
    list(state, ctx.account_id(), None, current).await
}

/// Ends one of the account's own sessions (not found when it isn't theirs).
pub async fn revoke_own(state: &AppState, meta: &RequestMeta, ctx: &TenantCtx, id: &str) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND account_id = $2")
        .bind(id)
        .bind(ctx.account_id().as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "session.revoke", Outcome::Success, "one of own sessions"),
    )
    .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    Ok(())
}

/// Ends every session of the account except `keep` (this one).
pub async fn revoke_others(state: &AppState, meta: &RequestMeta, ctx: &TenantCtx, keep: &str) -> Result<u64, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let ended = super::end_account_sessions(&mut tx, ctx.account_id(), Some(keep)).await?;
    let detail = format!("{ended} other session(s) signed out");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "session.revoke_others", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    Ok(ended)
}

/// An admin's view of a member's sessions in this tenant (sessions in other tenants stay private).
pub async fn list_member(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    membership: &MembershipId,
    current: Option<&str>,
) -> Result<(String, Vec<SessionView>), AppError> {
    let (account, email) = member_account(&mut *state.pool.acquire().await?, ctx, membership).await?;
    Ok((email, list(state, &account, Some(ctx.tenant_id().as_str()), current).await?))
}

/// An admin ends one session of a member (in this tenant), or all of them when `id` is `None`.
pub async fn revoke_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    membership: &MembershipId,
    id: Option<&str>,
) -> Result<u64, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let (account, email) = member_account(&mut tx, ctx, membership).await?;
    let done =
        sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND tenant_id = $2 AND ($3 = '' OR id_hash = $3)")
            .bind(account.as_str())
            .bind(ctx.tenant_id().as_str())
            .bind(id.unwrap_or(""))
            .execute(&mut *tx)
            .await?;
    let ended = done.rows_affected();
    if id.is_some() && ended == 0 {
        return Err(AppError::NotFound);
    }
    let detail = format!("member {email}: {ended} session(s) ended");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "session.revoke_member", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_are_described_in_words() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        let (b, os) = describe_agent(chrome);
        assert_eq!(b, "Chrome 126");
        assert_eq!(os, "Linux");
        assert_eq!(describe_agent("").0, "Unknown browser");
        assert_eq!(describe_agent("rampart-tests/1.0").1, "unknown system");
    }
}
