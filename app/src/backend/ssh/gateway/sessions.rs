//! Live SFTP sessions: recorded in `sftp_sessions` (so an admin sees every instance's on the SSH keys page and
//! can end one), registered with this instance's `Live` (so it can close them), and checked again whenever
//! access changes (`AppState::forget_access` wakes the checker, here and, through the access notifications, on
//! every other instance) and at least every second. A session ends when its key is removed, revoked, disabled or
//! stale, its member deactivated or without `vault_read`, its tenant closing or panicked (a panic also ends
//! every session that started before it), its address refused by the network rules, or an admin ends it.

use super::Login;
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, Permission, SftpSessionView};
use sqlx::Row as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

/// A session seen by no instance for this long is shown as ended.
const GONE_AFTER_MS: i64 = 60_000;

/// Bytes a session moved, counted by the file system as it goes.
#[derive(Debug, Default)]
pub struct Traffic {
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

/// One live session of this instance.
#[derive(Debug)]
struct Entry {
    login: Login,
    ip: String,
    traffic: Arc<Traffic>,
    end: watch::Sender<Option<String>>,
}

/// This instance's live sessions, and the bell that has them checked again.
#[derive(Debug, Default)]
pub struct Live {
    sessions: Mutex<HashMap<String, Entry>>,
    /// Rung by `AppState::forget_access`: the checker looks at every session now rather than within the second.
    pub wake: Notify,
}

impl Live {
    /// Has every live session checked again at once.
    pub fn recheck(&self) {
        self.wake.notify_one();
    }

    /// How many sessions this instance serves.
    pub fn count(&self) -> usize {
        self.sessions.lock().map(|s| s.len()).unwrap_or(0)
    }

    fn ids(&self) -> Vec<String> {
        self.sessions.lock().map(|s| s.keys().cloned().collect()).unwrap_or_default()
    }

    fn close(&self, id: &str, reason: String) {
        if let Ok(s) = self.sessions.lock() {
            if let Some(e) = s.get(id) {
                e.end.send_replace(Some(reason));
            }
        }
    }
}

/// A session as the protocol side holds it: its id, its counters, and the signal that it must end.
#[derive(Debug)]
pub struct Opened {
    pub id: String,
    pub traffic: Arc<Traffic>,
    pub ended: watch::Receiver<Option<String>>,
}

/// Records and registers a new session: `sftp.session_opened`.
pub async fn open(state: &AppState, login: &Login, meta: &RequestMeta) -> Result<Opened, AppError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = state.clock.now_ms();
    // Registered before its row exists: a session anyone can see is one the checker can end.
    let (end, ended) = watch::channel(None);
    let traffic = Arc::new(Traffic::default());
    if let Ok(mut s) = state.sftp.sessions.lock() {
        s.insert(id.clone(), Entry { login: login.clone(), ip: meta.ip.clone(), traffic: traffic.clone(), end });
    }
    if let Err(e) = record_open(state, &id, login, meta, now).await {
        if let Ok(mut s) = state.sftp.sessions.lock() {
            s.remove(&id);
        }
        return Err(e);
    }
    Ok(Opened { id, traffic, ended })
}

async fn record_open(state: &AppState, id: &str, login: &Login, meta: &RequestMeta, now: i64) -> Result<(), AppError> {
    let ctx = &login.ctx;
    let mut tx = begin_write(&state.pool).await?;
    sqlx::query(
        "INSERT INTO sftp_sessions (id, tenant_id, membership_id, actor, via, key_fingerprint, ssh_key_id, \
         cert_serial, ip, client, instance, started_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.membership_id().as_str())
    .bind(ctx.actor())
    .bind(login.via)
    .bind(&login.key_fingerprint)
    .bind(&login.ssh_key_id)
    .bind(login.cert_serial)
    .bind(&meta.ip)
    .bind(&meta.user_agent)
    .bind(&state.changes.instance)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let detail = match login.cert_serial {
        Some(s) => format!("by certificate {s} of {} ({})", login.key_fingerprint, meta.user_agent),
        None => format!("by key {} ({})", login.key_fingerprint, meta.user_agent),
    };
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "sftp.session_opened", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a session's end with what it moved: `sftp.session_closed`.
pub async fn close(state: &AppState, id: &str, reason: &str) -> Result<(), AppError> {
    let entry = state.sftp.sessions.lock().ok().and_then(|mut s| s.remove(id));
    let Some(entry) = entry else { return Ok(()) };
    // The reason the server ended it, when it did (the client then just sees the connection close).
    let ended_by_us = entry.end.borrow().clone();
    let reason = ended_by_us.as_deref().unwrap_or(reason);
    let now = state.clock.now_ms();
    let (bytes_in, bytes_out) =
        (entry.traffic.bytes_in.load(Ordering::Relaxed), entry.traffic.bytes_out.load(Ordering::Relaxed));
    let mut tx = begin_write(&state.pool).await?;
    let started: Option<i64> = sqlx::query_scalar(
        "UPDATE sftp_sessions SET ended_at = $1, end_reason = $2, bytes_in = $3, bytes_out = $4, last_seen_at = $1 \
         WHERE id = $5 AND ended_at IS NULL RETURNING started_at",
    )
    .bind(now)
    .bind(reason)
    .bind(i64::try_from(bytes_in).unwrap_or(i64::MAX))
    .bind(i64::try_from(bytes_out).unwrap_or(i64::MAX))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let meta = RequestMeta { ip: entry.ip.clone(), user_agent: String::new() };
    let detail = format!(
        "{reason}; {bytes_in} bytes in, {bytes_out} bytes out in {} s; key {}",
        (now - started.unwrap_or(now)) / 1000,
        entry.login.key_fingerprint
    );
    let event = NewEvent::by(&entry.login.ctx, &meta, "sftp.session_closed", Outcome::Success, &detail);
    audit::record(&mut tx, &state.keys, now, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Checks every live session of this instance and signals the end of those no longer allowed; refreshes their
/// counters and last-seen time in the database (`touch`: every few seconds, not on every check).
pub async fn check_all(state: &AppState, touch: bool) -> Result<(), AppError> {
    for id in state.sftp.ids() {
        let entry = state
            .sftp
            .sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&id).map(|e| (e.login.clone(), e.ip.clone(), e.traffic.clone())));
        let Some((login, ip, traffic)) = entry else { continue };
        if let Err(reason) = verdict(state, &id, &login, &ip).await? {
            tracing::info!(session = %id, %reason, "SFTP session ended");
            state.sftp.close(&id, reason);
            continue;
        }
        if touch {
            sqlx::query("UPDATE sftp_sessions SET last_seen_at = $1, bytes_in = $2, bytes_out = $3 WHERE id = $4")
                .bind(state.clock.now_ms())
                .bind(i64::try_from(traffic.bytes_in.load(Ordering::Relaxed)).unwrap_or(i64::MAX))
                .bind(i64::try_from(traffic.bytes_out.load(Ordering::Relaxed)).unwrap_or(i64::MAX))
                .bind(&id)
                .execute(&state.pool)
                .await?;
        }
    }
    Ok(())
}

/// Checks a session again before an operation and brings its context's role and grants up to date; `Err`
/// with the reason when it must end (the checker then closes it).
pub async fn authorise(state: &AppState, id: &str, ctx: &mut TenantCtx) -> Result<Result<(), String>, AppError> {
    let entry = state.sftp.sessions.lock().ok().and_then(|s| s.get(id).map(|e| (e.login.clone(), e.ip.clone())));
    let Some((login, ip)) = entry else { return Ok(Err("the session ended".into())) };
    if let Some(reason) = state.sftp.sessions.lock().ok().and_then(|s| s.get(id).and_then(|e| e.end.borrow().clone())) {
        return Ok(Err(reason));
    }
    match verdict(state, id, &login, &ip).await? {
        Ok((role, grants)) => {
            ctx.refresh(role, grants, 1, None);
            Ok(Ok(()))
        }
        Err(reason) => {
            state.sftp.close(id, reason.clone());
            Ok(Err(reason))
        }
    }
}

/// Records a file operation of a session that the vault does not record itself (a listing).
pub async fn record_op(
    state: &AppState,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    action: &str,
    detail: &str,
) -> Result<(), AppError> {
    let mut conn = state.pool.acquire().await?;
    let event = NewEvent::by(ctx, meta, action, Outcome::Success, detail);
    audit::record(&mut conn, &state.keys, state.clock.now_ms(), &event).await
}

/// Why a live session must end now, or the member's current role and grants.
async fn verdict(
    state: &AppState,
    id: &str,
    login: &Login,
    ip: &str,
) -> Result<Result<(String, Vec<Permission>), String>, AppError> {
    let row = sqlx::query(
        "SELECT s.end_requested_at, s.started_at, m.deactivated_at, m.role, m.grants, t.closes_at, t.sftp_paused_at, \
         t.last_panic_at, t.sftp_require_certs FROM sftp_sessions s JOIN memberships m ON m.id = s.membership_id \
         JOIN tenants t ON t.id = s.tenant_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(r) = row else { return Ok(Err("the member left the organisation".into())) };
    if r.try_get::<Option<i64>, _>("end_requested_at")?.is_some() {
        return Ok(Err("ended by an administrator".into()));
    }
    if r.try_get::<Option<i64>, _>("deactivated_at")?.is_some() {
        return Ok(Err("the member was deactivated".into()));
    }
    if r.try_get::<Option<i64>, _>("closes_at")?.is_some() {
        return Ok(Err("the organisation is closing".into()));
    }
    let started: i64 = r.try_get("started_at")?;
    if r.try_get::<Option<i64>, _>("sftp_paused_at")?.is_some()
        || r.try_get::<Option<i64>, _>("last_panic_at")?.is_some_and(|p| p >= started)
    {
        return Ok(Err("the panic button was pressed".into()));
    }
    let role: String = r.try_get("role")?;
    let grants = Permission::parse_list(&r.try_get::<String, _>("grants")?);
    if !crate::model::allows(
        crate::model::Role::parse(&role).unwrap_or(crate::model::Role::Auditor),
        &grants,
        Permission::VaultRead,
    ) {
        return Ok(Err("the member may no longer read the vault".into()));
    }
    if let Some(key) = &login.ssh_key_id {
        if r.try_get::<i64, _>("sftp_require_certs")? == 1 {
            return Ok(Err("the organisation now requires certificates".into()));
        }
        if !crate::backend::ssh::sync::usable(state, key).await? {
            return Ok(Err(format!("the key {} was removed, revoked or disabled", login.key_fingerprint)));
        }
    }
    // A short-lived certificate bounds the session it opened, not only the sign-in.
    if let Some(serial) = login.cert_serial {
        let until: Option<i64> =
            sqlx::query_scalar("SELECT valid_before FROM ssh_certificates WHERE tenant_id = $1 AND serial = $2")
                .bind(login.ctx.tenant_id().as_str())
                .bind(serial)
                .fetch_optional(&state.pool)
                .await?;
        if until.is_none_or(|u| u <= state.clock.now_ms()) {
            return Ok(Err(format!("the certificate {serial} expired")));
        }
    }
    if let Ok(addr) = ip.parse() {
        if let Some(r) = crate::backend::network::rules::check_console(state, login.ctx.tenant_id(), addr).await? {
            return Ok(Err(format!("network rules: {}", r.detail(addr))));
        }
    }
    Ok(Ok((role, grants)))
}

/// The tenant's live sessions on every instance (owners and admins).
pub async fn list(state: &AppState, ctx: &TenantCtx, _admin: &AdminHandle) -> Result<Vec<SftpSessionView>, AppError> {
    let rows = sqlx::query(
        "SELECT id, actor, via, key_fingerprint, ip, client, started_at, last_seen_at, bytes_in, bytes_out, \
         end_requested_at FROM sftp_sessions WHERE tenant_id = $1 AND ended_at IS NULL AND last_seen_at > $2 \
         ORDER BY started_at DESC LIMIT 200",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(state.clock.now_ms() - GONE_AFTER_MS)
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SftpSessionView {
                id: r.try_get("id")?,
                actor: r.try_get("actor")?,
                via: r.try_get("via")?,
                key_fingerprint: r.try_get("key_fingerprint")?,
                ip: r.try_get("ip")?,
                client: r.try_get("client")?,
                started_at: r.try_get("started_at")?,
                bytes_in: r.try_get("bytes_in")?,
                bytes_out: r.try_get("bytes_out")?,
                ending: r.try_get::<Option<i64>, _>("end_requested_at")?.is_some(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// Ends one of the tenant's live sessions (whichever instance serves it closes it): `sftp.session_ended`.
pub async fn end(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    session_id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let row = sqlx::query(
        "UPDATE sftp_sessions SET end_requested_at = $1 WHERE id = $2 AND tenant_id = $3 AND ended_at IS NULL \
         RETURNING actor, key_fingerprint",
    )
    .bind(now)
    .bind(session_id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let actor: String = row.try_get("actor")?;
    let detail = format!("session of {actor} ended");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "sftp.session_ended", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Opens SFTP again after a panic (owners and admins, stepped up): `sftp.resumed`. Certificates issued before
/// the panic stay refused.
pub async fn resume(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    meta: &RequestMeta,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let n = sqlx::query("UPDATE tenants SET sftp_paused_at = NULL WHERE id = $1 AND sftp_paused_at IS NOT NULL")
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(AppError::Conflict { msg: "SFTP is not paused.".into() });
    }
    let detail = "SFTP open again after the panic; certificates issued before it stay refused";
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "sftp.resumed", Outcome::Success, detail))
        .await?;
    tx.commit().await?;
    Ok(())
}
