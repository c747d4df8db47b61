//! Console sessions on tower-sessions, stored in the shared pool.
//!
//! Policy (OWASP Session Management; NIST 800-63B-4 §5.2): ids are tower-sessions' 128-bit random ids; the
//! table keys on their SHA-256 only; the id is cycled at sign-in; a session ends after `idle` without a request
//! or `absolute` after sign-in, whichever comes first, judged by the injectable clock on every request; sign-out
//! deletes the row. `seen_at` is written at most once a minute, so a busy console doesn't write per request.
//!
//! Between a correct password and the second factor the session holds a `PendingSignIn`, never an
//! `AuthState`: the gate resolves no tenant context from it, so it reaches nothing but the second-factor and
//! enrollment forms; it lives 5 minutes and is bound to this browser's cookie. Step-up ("sudo mode") is the
//! time of the last password (+ second factor) check in this session; sensitive acts need it within 10 minutes
//! and take the `SteppedUp` proof that only `require_step_up` hands out.

use crate::backend::access::epoch::{self, EpochCache};
use crate::backend::access::TenantCtx;
use crate::backend::platform::clock::{Clock, MINUTE_MS};
use crate::backend::platform::request::RequestMeta;
use crate::model::AppError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row as _};
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::Session;

pub mod fresh;
mod manage;
pub use manage::{describe_agent, list_member, list_own, revoke_member, revoke_others, revoke_own};

const AUTH_KEY: &str = "auth";
const PENDING_KEY: &str = "pending";
const FRESH_CODES_KEY: &str = "fresh_codes";
const ENROLLING_KEY: &str = "enrolling";

/// How long the state between password and second factor lasts.
pub const PENDING_TTL_MS: i64 = 5 * MINUTE_MS;
/// How long a step-up (re-entered password + second factor) stays valid.
pub const STEP_UP_TTL_MS: i64 = 10 * MINUTE_MS;

/// What a signed-in session holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthState {
    pub ctx: TenantCtx,
    /// When the password was accepted (epoch ms): the absolute lifetime counts from here.
    pub authenticated_at: i64,
    /// The last request seen, to within a minute (epoch ms): the idle timeout counts from here.
    pub seen_at: i64,
    /// The last time the member proved it was them in this session (sign-in or step-up), epoch ms.
    #[serde(default)]
    pub stepped_up_at: i64,
    /// Where the sign-in came from, for "Your sessions".
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub user_agent: String,
}

/// What is left to do after a correct password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingStage {
    /// Enter a TOTP or recovery code.
    SecondFactor,
    /// Enroll an authenticator first (tenant policy or an admin's reset).
    Enroll,
}

/// A half-signed-in browser: password accepted, second factor (or enrollment) outstanding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub ctx: TenantCtx,
    pub stage: PendingStage,
    pub started_at: i64,
}

/// Proof that this session stepped up within the last 10 minutes; only `require_step_up` makes one.
#[derive(Debug)]
pub struct SteppedUp {
    _private: (),
}

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimeouts {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

/// Starts a signed-in session: a new id (the pre-sign-in one is discarded), then the auth state. Signing in
/// counts as a fresh step-up.
pub async fn establish(session: &Session, ctx: TenantCtx, now_ms: i64, meta: &RequestMeta) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_err)?;
    session.remove_value(PENDING_KEY).await.map_err(store_err)?;
    let state = AuthState {
        ctx,
        authenticated_at: now_ms,
        seen_at: now_ms,
        stepped_up_at: now_ms,
        ip: meta.ip.clone(),
        user_agent: meta.user_agent.clone(),
    };
    session.insert(AUTH_KEY, state).await.map_err(store_err)
}

/// Moves this signed-in session to another tenant of the same account: the same sign-in time (the absolute
/// lifetime keeps counting) and no carried-over step-up.
///
/// The session keeps its id. A new id is written by the store's `create`, an insert, at the end of the request:
/// a switch in flight while the session was ended (revoked, signed out everywhere, a password reset, the panic
/// button) would insert it again, fully signed in, under an id the revocation never saw. Kept, the id is saved
/// by an update, which finds no row once the session is ended. The id has been the browser's secret since the
/// sign-in that cycled it (`establish`), and a switch gives no power the account did not already have.
pub async fn switch_tenant(session: &Session, ctx: TenantCtx) -> Result<(), AppError> {
    let Some(mut state) = session.get::<AuthState>(AUTH_KEY).await.map_err(store_err)? else {
        return Err(AppError::Unauthenticated);
    };
    state.ctx = ctx;
    state.stepped_up_at = 0;
    session.insert(AUTH_KEY, state).await.map_err(store_err)
}

/// Puts the browser into the half-signed-in state (new session id, no auth state).
pub async fn begin_pending(
    session: &Session,
    ctx: TenantCtx,
    stage: PendingStage,
    now_ms: i64,
) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_err)?;
    session.remove_value(AUTH_KEY).await.map_err(store_err)?;
    session.insert(PENDING_KEY, PendingSignIn { ctx, stage, started_at: now_ms }).await.map_err(store_err)
}

/// The half-signed-in state of this browser, if it has one that has not expired (an expired one is removed).
pub async fn pending(session: &Session, now_ms: i64) -> Result<Option<PendingSignIn>, AppError> {
    let Some(p) = session.get::<PendingSignIn>(PENDING_KEY).await.map_err(store_err)? else { return Ok(None) };
    if now_ms - p.started_at >= PENDING_TTL_MS || now_ms < p.started_at {
        session.remove_value(PENDING_KEY).await.map_err(store_err)?;
        return Ok(None);
    }
    Ok(Some(p))
}

/// Records a successful step-up in this (signed-in) session.
pub async fn mark_stepped_up(session: &Session, now_ms: i64) -> Result<(), AppError> {
    let Some(mut state) = session.get::<AuthState>(AUTH_KEY).await.map_err(store_err)? else {
        return Err(AppError::Unauthenticated);
    };
    state.stepped_up_at = now_ms;
    session.insert(AUTH_KEY, state).await.map_err(store_err)
}

/// When this session's step-up ends (epoch ms), if it is still valid.
pub async fn step_up_valid_until(session: &Session, now_ms: i64) -> Result<Option<i64>, AppError> {
    let state = session.get::<AuthState>(AUTH_KEY).await.map_err(store_err)?;
    Ok(state.map(|s| s.stepped_up_at + STEP_UP_TTL_MS).filter(|until| *until > now_ms))
}

/// The step-up proof, or `StepUpRequired` when the last one is older than 10 minutes.
pub async fn require_step_up(session: &Session, now_ms: i64) -> Result<SteppedUp, AppError> {
    match step_up_valid_until(session, now_ms).await? {
        Some(_) => Ok(SteppedUp { _private: () }),
        None => Err(AppError::StepUpRequired),
    }
}

/// Keeps freshly generated recovery codes (sealed under the server key, never in clear in the store) until the
/// page that shows them once takes them.
pub async fn stash_fresh_codes(session: &Session, sealed: (String, String)) -> Result<(), AppError> {
    session.insert(FRESH_CODES_KEY, sealed).await.map_err(store_err)
}

/// Takes the stashed codes out of the session: a second call finds nothing.
pub async fn take_fresh_codes(session: &Session) -> Result<Option<(String, String)>, AppError> {
    session.remove::<(String, String)>(FRESH_CODES_KEY).await.map_err(store_err)
}

/// The mark of the authenticator enrollment this browser started, which only it may resume.
pub async fn enrolling(session: &Session) -> Result<Option<String>, AppError> {
    session.get::<String>(ENROLLING_KEY).await.map_err(store_err)
}

/// Notes the enrollment this browser started (`enrolling`).
pub async fn note_enrolling(session: &Session, mark: String) -> Result<(), AppError> {
    session.insert(ENROLLING_KEY, mark).await.map_err(store_err)
}

/// The id hash of this session as stored, to spare it when signing out every other session.
pub fn current_id_hash(session: &Session) -> Option<String> {
    session.id().map(|id| id_hash(&id))
}

/// Ends every session of an account, except `keep` (an id hash) when given; returns how many ended.
pub async fn end_account_sessions(
    conn: &mut sqlx::AnyConnection,
    account_id: &crate::backend::platform::ids::AccountId,
    keep: Option<&str>,
) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND id_hash <> $2")
        .bind(account_id.as_str())
        .bind(keep.unwrap_or(""))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The signed-in context of this session, or `None`. Expired sessions are deleted on the spot.
/// The role and grants are read from the membership on every request, so a change (or a deactivation) takes
/// effect on the member's very next request.
pub async fn resolve(session: &Session, app: &crate::backend::AppState) -> Result<Option<TenantCtx>, AppError> {
    let Some(mut state) = session.get::<AuthState>(AUTH_KEY).await.map_err(store_err)? else {
        return Ok(None);
    };
    let now = app.clock.now_ms();
    let timeouts = app.timeouts;
    if now - state.authenticated_at >= timeouts.absolute_ms || now - state.seen_at >= timeouts.idle_ms {
        session.flush().await.map_err(store_err)?;
        return Ok(None);
    }
    // A support session answers to its request, read on every request: revoked or ended, it is over now.
    if let Some(request) = state.ctx.support_request() {
        if crate::backend::support::session::reach(app, request).await?.is_none() {
            session.flush().await.map_err(store_err)?;
            return Ok(None);
        }
        return Ok(Some(state.ctx.clone()));
    }
    let Some(facts) = membership(app, state.ctx.membership_id().as_str()).await? else {
        session.flush().await.map_err(store_err)?;
        return Ok(None);
    };
    let mut ctx = state.ctx.clone();
    ctx.refresh(facts.role, facts.grants, facts.tenants, facts.closes_at);
    if now - state.seen_at >= MINUTE_MS {
        state.seen_at = now;
        session.insert(AUTH_KEY, state).await.map_err(store_err)?;
    }
    crate::backend::platform::failure::note_tenant(ctx.tenant_id().as_str());
    Ok(Some(ctx))
}

/// What the gate needs of a membership on every request.
#[derive(Debug, Clone)]
struct MembershipFacts {
    role: String,
    grants: Vec<crate::model::Permission>,
    /// Active memberships of the account (the tenant switcher).
    tenants: i64,
    closes_at: Option<i64>,
}

/// The session records and memberships this process has read, valid in the access epoch they were read in
/// and for at most a second (`access::epoch`).
#[derive(Debug, Default)]
pub struct SessionCache {
    records: EpochCache<Record>,
    memberships: EpochCache<MembershipFacts>,
}

/// The active membership's role, grants and tenant state, from memory when nothing changed since it was read.
async fn membership(app: &crate::backend::AppState, id: &str) -> Result<Option<MembershipFacts>, AppError> {
    if let Some(facts) = app.session_cache.memberships.get(id) {
        return Ok(Some(facts));
    }
    let read_at = epoch::current();
    let row = sqlx::query(
        "SELECT m.role, m.grants, (SELECT COUNT(*) FROM memberships o WHERE o.account_id = m.account_id \
         AND o.deactivated_at IS NULL) AS tenants, t.closes_at FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.id = $1 AND m.deactivated_at IS NULL",
    )
    .bind(id)
    .fetch_optional(&app.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let grants: String = row.try_get("grants")?;
    let facts = MembershipFacts {
        role: row.try_get("role")?,
        grants: crate::model::Permission::parse_list(&grants),
        tenants: row.try_get("tenants")?,
        closes_at: row.try_get("closes_at")?,
    };
    app.session_cache.memberships.put(id.to_owned(), facts.clone(), read_at);
    Ok(Some(facts))
}

/// Ends the session: the row is deleted and the cookie removed.
pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(store_err)
}

pub(crate) fn store_err(err: tower_sessions::session::Error) -> AppError {
    match err {
        tower_sessions::session::Error::Store(session_store::Error::Backend(msg)) if msg == UNAVAILABLE => {
            AppError::Unavailable
        }
        other => crate::backend::platform::failure::internal("session store", other),
    }
}

const UNAVAILABLE: &str = "database unavailable";

/// tower-sessions' store over the shared pool (SQLite or PostgreSQL).
#[derive(Clone)]
pub struct SqlSessionStore {
    pool: AnyPool,
    clock: Arc<dyn Clock>,
    cache: Arc<SessionCache>,
}

impl std::fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlSessionStore")
    }
}

impl SqlSessionStore {
    pub fn new(pool: AnyPool, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock, cache: Arc::default() }
    }

    /// Shares the process's session cache (`AppState::session_cache`).
    pub fn with_cache(self, cache: Arc<SessionCache>) -> Self {
        Self { cache, ..self }
    }
}

fn id_hash(id: &Id) -> String {
    crate::backend::platform::crypto::token_digest(&id.to_string())
}

fn backend_err(err: sqlx::Error) -> session_store::Error {
    match AppError::from(err) {
        AppError::Unavailable => session_store::Error::Backend(UNAVAILABLE.to_owned()),
        other => session_store::Error::Backend(other.to_string()),
    }
}

impl SqlSessionStore {
    /// Inserts (`insert`: only a new id, never over an existing row) or updates (an existing row only) a
    /// session; returns whether a row was written.
    async fn write(&self, record: &Record, insert: bool) -> session_store::Result<bool> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let auth: Option<AuthState> = record.data.get(AUTH_KEY).and_then(|v| serde_json::from_value(v.clone()).ok());
        // A half-signed-in browser is listed under its account too, so ending an account's sessions ends it.
        let pending: Option<PendingSignIn> =
            record.data.get(PENDING_KEY).and_then(|v| serde_json::from_value(v.clone()).ok());
        let account = auth.as_ref().map(|a| a.ctx.account_id()).or(pending.as_ref().map(|p| p.ctx.account_id()));
        let now = self.clock.now_ms();
        let expires_at = i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let sql = if insert {
            "INSERT INTO sessions (id_hash, account_id, tenant_id, data, expires_at, created_at, updated_at, ip, \
             user_agent, authenticated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) \
             ON CONFLICT (id_hash) DO NOTHING"
        } else {
            "UPDATE sessions SET account_id = $2, tenant_id = $3, data = $4, expires_at = $5, updated_at = $6, \
             ip = $7, user_agent = $8, authenticated_at = $9 WHERE id_hash = $1"
        };
        let done = sqlx::query(sql)
            .bind(id_hash(&record.id))
            .bind(account.map(|a| a.0.clone()))
            .bind(auth.as_ref().map(|a| a.ctx.tenant_id().0.clone()))
            .bind(data)
            .bind(expires_at)
            .bind(now)
            .bind(auth.as_ref().map(|a| a.ip.clone()).unwrap_or_default())
            .bind(auth.as_ref().map(|a| a.user_agent.clone()).unwrap_or_default())
            .bind(auth.as_ref().map(|a| a.authenticated_at).unwrap_or_default())
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit collision is practically impossible, but a duplicate must never overwrite a session.
        while !self.write(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    /// Only updates: a session that was ended (revoked, signed out everywhere, panic button, password reset,
    /// deactivation) while a request of it was in flight stays ended when that request saves its state.
    /// Inserting here would bring the revoked session back with its full authentication state.
    /// A save moves the access epoch: a request that read the record before it must not cache what it read
    /// (taken recovery codes would come back; a step-up would go).
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let written = self.write(record, false).await;
        epoch::bump();
        written.map(|_| ())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let key = id_hash(session_id);
        if let Some(record) = self.cache.records.get(&key) {
            return Ok((record.expiry_date > time::OffsetDateTime::now_utc()).then_some(record));
        }
        let read_at = epoch::current();
        let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id_hash = $1")
            .bind(&key)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_err)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend_err)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend_err)?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        // The store's own expiry is wall-clock (tower-sessions computes it); the clock-driven idle and absolute
        // checks happen in `resolve`.
        if expiry_date <= time::OffsetDateTime::now_utc() {
            return Ok(None);
        }
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let record = Record { id: *session_id, data, expiry_date };
        self.cache.records.put(key, record.clone(), read_at);
        Ok(Some(record))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash(session_id))
            .execute(&self.pool)
            .await
            .map_err(backend_err);
        epoch::bump();
        done.map(|_| ())
    }
}

/// Deletes sessions past their stored expiry; run periodically by the server's cleanup job.
pub async fn delete_expired(pool: &AnyPool, wall_now_ms: i64) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(wall_now_ms).execute(pool).await?;
    Ok(done.rows_affected())
}
