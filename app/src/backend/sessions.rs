//! Console sessions on tower-sessions, stored in the shared pool.
//!
//! Policy (OWASP Session Management; NIST 800-63B-4 §5.2): ids are tower-sessions' 128-bit random ids; the
//! table keys on their SHA-256 only; the id is cycled at sign-in; a session ends after `idle` without a request
//! or `absolute` after sign-in, whichever comes first, judged by the injectable clock on every request; sign-out
//! deletes the row. `seen_at` is written at most once a minute, so a busy console doesn't write per request.

use super::clock::{Clock, MINUTE_MS};
use super::context::TenantCtx;
use crate::model::AppError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row as _};
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::Session;

const AUTH_KEY: &str = "auth";

/// What a signed-in session holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthState {
    pub ctx: TenantCtx,
    /// When the password was accepted (epoch ms): the absolute lifetime counts from here.
    pub authenticated_at: i64,
    /// The last request seen, to within a minute (epoch ms): the idle timeout counts from here.
    pub seen_at: i64,
}

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimeouts {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

/// Starts a signed-in session: a new id (the pre-sign-in one is discarded), then the auth state.
pub async fn establish(session: &Session, ctx: TenantCtx, now_ms: i64) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_err)?;
    let state = AuthState { ctx, authenticated_at: now_ms, seen_at: now_ms };
    session.insert(AUTH_KEY, state).await.map_err(store_err)
}

/// The signed-in context of this session, or `None`. Expired sessions are deleted on the spot.
pub async fn resolve(
    session: &Session,
    clock: &dyn Clock,
    timeouts: SessionTimeouts,
) -> Result<Option<TenantCtx>, AppError> {
    let Some(mut state) = session.get::<AuthState>(AUTH_KEY).await.map_err(store_err)? else {
        return Ok(None);
    };
    let now = clock.now_ms();
    if now - state.authenticated_at >= timeouts.absolute_ms || now - state.seen_at >= timeouts.idle_ms {
        session.flush().await.map_err(store_err)?;
        return Ok(None);
    }
    if now - state.seen_at >= MINUTE_MS {
        state.seen_at = now;
        let ctx = state.ctx.clone();
        session.insert(AUTH_KEY, state).await.map_err(store_err)?;
        return Ok(Some(ctx));
    }
    Ok(Some(state.ctx))
}

/// Ends the session: the row is deleted and the cookie removed.
pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(store_err)
}

fn store_err(err: tower_sessions::session::Error) -> AppError {
    match err {
        tower_sessions::session::Error::Store(session_store::Error::Backend(msg)) if msg == UNAVAILABLE => {
            AppError::Unavailable
        }
        other => {
            let op_id = super::crypto::op_id();
            tracing::error!(op_id = %op_id, error = %other, "session store error");
            AppError::Internal { op_id }
        }
    }
}

const UNAVAILABLE: &str = "database unavailable";

/// tower-sessions' store over the shared pool (SQLite or PostgreSQL).
#[derive(Clone)]
pub struct SqlSessionStore {
    pool: AnyPool,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqlSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlSessionStore")
    }
}

impl SqlSessionStore {
    pub fn new(pool: AnyPool, clock: Arc<dyn Clock>) -> Self {
        Self { pool, clock }
    }
}

fn id_hash(id: &Id) -> String {
    super::crypto::token_digest(&id.to_string())
}

fn backend_err(err: sqlx::Error) -> session_store::Error {
    match AppError::from(err) {
        AppError::Unavailable => session_store::Error::Backend(UNAVAILABLE.to_owned()),
        other => session_store::Error::Backend(other.to_string()),
    }
}

impl SqlSessionStore {
    async fn write(&self, record: &Record, upsert: bool) -> session_store::Result<bool> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let auth: Option<AuthState> = record.data.get(AUTH_KEY).and_then(|v| serde_json::from_value(v.clone()).ok());
        let now = self.clock.now_ms();
        let expires_at = i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let on_conflict = if upsert {
            "UPDATE SET account_id = $2, tenant_id = $3, data = $4, expires_at = $5, updated_at = $6"
        } else {
            "NOTHING"
        };
        let sql = format!(
            "INSERT INTO sessions (id_hash, account_id, tenant_id, data, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id_hash) DO {on_conflict}"
        );
        let done = sqlx::query(&sql)
            .bind(id_hash(&record.id))
            .bind(auth.as_ref().map(|a| a.ctx.account_id.0.clone()))
            .bind(auth.as_ref().map(|a| a.ctx.tenant_id.0.clone()))
            .bind(data)
            .bind(expires_at)
            .bind(now)
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
        while !self.write(record, false).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, true).await.map(|_| ())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query("SELECT data, expires_at FROM sessions WHERE id_hash = $1")
            .bind(id_hash(session_id))
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
        Ok(Some(Record { id: *session_id, data, expiry_date }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash(session_id))
            .execute(&self.pool)
            .await
            .map_err(backend_err)?;
        Ok(())
    }
}

/// Deletes sessions past their stored expiry; run periodically by the server's cleanup job.
pub async fn delete_expired(pool: &AnyPool, wall_now_ms: i64) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(wall_now_ms).execute(pool).await?;
    Ok(done.rows_affected())
}
