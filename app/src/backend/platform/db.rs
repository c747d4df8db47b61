//! The one connection pool, its start-up (SQLite pragmas, migrations), and how database failures become
//! `AppError`s. The same SQL runs on SQLite and PostgreSQL through sqlx `Any`: `$n` placeholders, BIGINT for
//! integers and flags, TEXT ids, epoch-millisecond instants.

use crate::model::AppError;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};
use std::str::FromStr as _;
use std::time::Duration;

/// How the pool is built; comes from the server's settings.
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a lock before giving up (PRAGMA busy_timeout).
    pub busy_timeout: Duration,
}

/// Which SQL engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine behind a database URL.
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

impl DbConfig {
    pub fn backend(&self) -> Backend {
        Backend::of(&self.url)
    }
}

/// The page cache of each SQLite connection, in KiB (SQLite's default is 2,000). Every pooled connection fills
/// its own cache to the limit as the access history grows, outside the Rust allocator: with eight connections
/// that was 30 MB of the server's memory after a few minutes of keyed requests (measured with
/// /proc/PID/smaps, the connections' malloc arenas). What requests read again and again — sessions, members,
/// keys, the history's newest pages — is a few dozen pages, and the rest comes from the OS's file cache.
pub const SQLITE_CACHE_KIB: u32 = 512;

/// Builds the pool: SQLite gets WAL, foreign keys, a busy timeout and a bounded page cache on every connection;
/// a missing SQLite file (and its folder) is created.
pub async fn connect(cfg: &DbConfig) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut url = cfg.url.clone();
    if cfg.backend() == Backend::Sqlite {
        if let Some(path) = sqlite_path(&url) {
            if let Some(parent) = std::path::Path::new(&path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
                }
            }
        }
        if !url.contains("mode=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("mode=rwc");
        }
    }
    let options = AnyConnectOptions::from_str(&url)?;
    let busy_ms = cfg.busy_timeout.as_millis();
    AnyPoolOptions::new()
        .max_connections(cfg.max_connections)
        .min_connections(1)
        .acquire_timeout(cfg.acquire_timeout)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute(format!("PRAGMA busy_timeout = {busy_ms}").as_str()).await?;
                    conn.execute(format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}").as_str()).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Starts a transaction that will write. On SQLite it first waits for this process's turn to write (first come,
/// first served), then takes the write lock up front (`BEGIN IMMEDIATE`): a deferred transaction that reads,
/// then writes after another connection committed, fails at once with SQLITE_BUSY_SNAPSHOT instead of waiting
/// out the busy timeout. Without the turn, writers raced for the lock through SQLite's busy handler, which
/// sleeps with growing back-off and is unfair: under load one writer lost the race for over a second (the
/// bench's page rotation, a page that records its view). PostgreSQL needs no such care.
pub async fn begin_write(pool: &AnyPool) -> Result<WriteTx, sqlx::Error> {
    let url = &pool.connect_options().database_url;
    if url.scheme().starts_with("sqlite") {
        let turn = writer_turn(url.as_str());
        let turn = tokio::time::timeout(pool.options().get_acquire_timeout(), turn.lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        Ok(WriteTx { tx: pool.begin_with("BEGIN IMMEDIATE").await?, _turn: Some(turn) })
    } else {
        Ok(WriteTx { tx: pool.begin().await?, _turn: None })
    }
}

/// The writer queue of one SQLite database in this process.
fn writer_turn(url: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    static TURNS: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut turns = TURNS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    turns.entry(url.to_owned()).or_default().clone()
}

/// A write transaction (`begin_write`), used as a connection (`&mut *tx`); on SQLite it holds this process's
/// turn to write until it is committed, rolled back or dropped.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::fmt::Debug for WriteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteTx")
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// The file of a `sqlite:` URL (none for an in-memory database or another scheme).
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// The newest migration this build carries (a restore refuses a backup of a newer schema: this build could
/// not start on it).
pub fn newest_migration() -> i64 {
    sqlx::migrate!("../migrations").iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies every pending migration; start-up aborts when this fails.
pub async fn migrate(pool: &AnyPool) -> Result<(), sqlx::migrate::MigrateError> {
    sqlx::migrate!("../migrations").run(pool).await?;
    if pool.connect_options().database_url.scheme().starts_with("postgres") {
        // Counters are not worth a WAL write (see the migration creating `shared_counters`).
        let logged: Option<String> = sqlx::query_scalar(
            "SELECT relpersistence::text FROM pg_class WHERE relname = 'shared_counters' AND relpersistence = 'p'",
        )
        .fetch_optional(pool)
        .await?;
        if logged.is_some() {
            sqlx::query("ALTER TABLE shared_counters SET UNLOGGED").execute(pool).await?;
        }
    }
    Ok(())
}

/// A migrated SQLite database in a temporary folder, for unit tests (dropping the folder deletes it).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub async fn test_pool() -> (tempfile::TempDir, AnyPool) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DbConfig {
        url: format!("sqlite://{}/t.db", dir.path().display()),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        busy_timeout: Duration::from_secs(5),
    };
    let pool = connect(&cfg).await.unwrap();
    migrate(&pool).await.unwrap();
    (dir, pool)
}

impl From<sqlx::Error> for AppError {
    /// `?` passes its own location: an error report names the query's place, not this function.
    #[track_caller]
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::warn!(error = %err, "database unavailable");
                AppError::Unavailable
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AppError::Conflict { msg: "That already exists.".to_owned() }
            }
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6): another writer holds the database longer than the busy
            // timeout. PostgreSQL class 08 (connection exception) and 57P0x (shutting down) are outages too.
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("5" | "6" | "517" | "262"))
                    || db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")) =>
            {
                tracing::warn!(error = %err, "database busy or unavailable");
                AppError::Unavailable
            }
            // PostgreSQL's text holds no NUL character (22021; 22P05 in JSON): the request's own input, refused.
            // SQLite stores it, so only one of the databases would have answered 500.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => {
                AppError::validation("form", "The text contains a character that cannot be stored (NUL).")
            }
            _ => super::failure::internal_chain("database", &err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_found() {
        assert_eq!(sqlite_path("sqlite://data/rampart.db").as_deref(), Some("data/rampart.db"));
        assert_eq!(sqlite_path("sqlite:x.db?mode=rwc").as_deref(), Some("x.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }

    /// Every connection of the pool, not only the first, has the bounded cache (the pragma is per connection).
    #[tokio::test]
    async fn every_sqlite_connection_has_a_bounded_page_cache() -> Result<(), sqlx::Error> {
        let (_dir, pool) = test_pool().await;
        let (mut a, mut b) = (pool.acquire().await?, pool.acquire().await?);
        for conn in [&mut a, &mut b] {
            let kib: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(&mut **conn).await?;
            assert_eq!(kib, -i64::from(SQLITE_CACHE_KIB), "negative: KiB, not pages");
        }
        Ok(())
    }

    #[test]
    fn pool_exhaustion_is_unavailable_not_internal() {
        assert_eq!(AppError::from(sqlx::Error::PoolTimedOut), AppError::Unavailable);
        assert_eq!(AppError::from(sqlx::Error::RowNotFound), AppError::NotFound);
    }
}
