//! One instance at a time for a background job. On PostgreSQL a job's pass holds a session-level advisory
//! lock (`pg_try_advisory_lock`) on a connection of its own for as long as it runs: another instance's pass
//! of the same job finds it taken and skips its turn, and if the holder dies its connection closes, the lock
//! is released, and the next pass elsewhere picks up what it left (every pass is a restartable sweep over the
//! database). On SQLite (one server) an exclusive lock on the file `<database>.jobs/<job>.lock` does the same
//! between the server and the operator's commands on that machine (a backup holds the locks of the jobs that
//! delete blobs).
//!
//! An instance also holds a lock named after itself for as long as it lives ([`hold_instance`]): another
//! instance tells a dead worker from a slow one by trying that lock ([`instance_is_gone`]), so work a killed
//! instance left half-done is taken over at the next pass instead of after a heartbeat timeout.

use sha2::{Digest as _, Sha256};
use sqlx::AnyPool;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// A held job lock; released when dropped (or, on PostgreSQL, when its connection ends).
pub struct JobLock {
    name: &'static str,
    held: Held,
}

enum Held {
    /// A connection of its own, outside the pool (a pass must not take a request's connection for its whole
    /// run); closing it releases the lock.
    Postgres(Option<sqlx::AnyConnection>, i64),
    /// Unlocked when the file is closed.
    File {
        _held: std::fs::File,
    },
    Local,
}

fn local_locks() -> &'static Mutex<HashSet<&'static str>> {
    static LOCKS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    LOCKS.get_or_init(Mutex::default)
}

/// The advisory lock key of a job: the first 8 bytes of SHA-256 of its name.
fn key_of(name: &str) -> i64 {
    let d = Sha256::digest(format!("rampart-job:{name}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

impl JobLock {
    /// Takes the lock of job `name` if no instance holds it; `None` when one does.
    pub async fn try_take(pool: &AnyPool, name: &'static str) -> Result<Option<Self>, sqlx::Error> {
        let url = &pool.connect_options().database_url;
        if url.scheme().starts_with("postgres") {
            use sqlx::Connection as _;
            let mut conn = sqlx::AnyConnection::connect(url.as_str()).await?;
            // BIGINT, not BOOLEAN: what every driver behind `Any` decodes alike.
            let taken: i64 =
                sqlx::query_scalar("SELECT (CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END)::bigint")
                    .bind(key_of(name))
                    .fetch_one(&mut conn)
                    .await?;
            return Ok((taken == 1).then(|| Self { name, held: Held::Postgres(Some(conn), key_of(name)) }));
        }
        if let Some(db) = super::db::sqlite_path(url.as_str()) {
            let dir = std::path::PathBuf::from(format!("{db}.jobs"));
            std::fs::create_dir_all(&dir).map_err(sqlx::Error::Io)?;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(format!("{name}.lock")))
                .map_err(sqlx::Error::Io)?;
            return match file.try_lock() {
                Ok(()) => Ok(Some(Self { name, held: Held::File { _held: file } })),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(e)) => Err(sqlx::Error::Io(e)),
            };
        }
        let Ok(mut held) = local_locks().lock() else { return Ok(None) };
        Ok(held.insert(name).then(|| Self { name, held: Held::Local }))
    }
}

impl JobLock {
    /// Releases the lock and returns once the database has let it go.
    pub async fn release(mut self) {
        if let Held::Postgres(conn, key) = &mut self.held {
            if let Some(mut conn) = conn.take() {
                use sqlx::Connection as _;
                // Unlocked explicitly: a closed connection's locks go only when its server process has ended,
                // a moment after the close returns.
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(*key).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        match &mut self.held {
            Held::File { .. } => {}
            Held::Local => {
                if let Ok(mut held) = local_locks().lock() {
                    held.remove(self.name);
                }
            }
            Held::Postgres(conn, _) => {
                // Closed politely where a runtime runs; otherwise dropped, which closes its socket. Either way
                // the server ends the session and releases the lock with it.
                if let (Some(conn), Ok(rt)) = (conn.take(), tokio::runtime::Handle::try_current()) {
                    use sqlx::Connection as _;
                    rt.spawn(async move {
                        let _ = conn.close().await;
                    });
                }
            }
        }
    }
}

/// Takes the lock that says "instance `id` is alive" on a connection of its own and returns it: keep it for the
/// instance's life. `None` on SQLite (one instance; nothing to tell).
pub async fn hold_instance(pool: &AnyPool, id: &str) -> Result<Option<sqlx::AnyConnection>, sqlx::Error> {
    use sqlx::Connection as _;
    let url = &pool.connect_options().database_url;
    if !url.scheme().starts_with("postgres") {
        return Ok(None);
    }
    let mut conn = sqlx::AnyConnection::connect(url.as_str()).await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(key_of(&format!("instance:{id}"))).execute(&mut conn).await?;
    Ok(Some(conn))
}

/// Whether instance `id` (another than the caller) is gone: its life lock is free. On SQLite always: one
/// server per database file (`rampart serve` takes the file's lock), so any other worker is a dead one.
pub async fn instance_is_gone(pool: &AnyPool, id: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    let url = &pool.connect_options().database_url;
    if !url.scheme().starts_with("postgres") {
        return Ok(true);
    }
    let mut conn = sqlx::AnyConnection::connect(url.as_str()).await?;
    let taken: i64 = sqlx::query_scalar("SELECT (CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END)::bigint")
        .bind(key_of(&format!("instance:{id}")))
        .fetch_one(&mut conn)
        .await?;
    if taken == 1 {
        // Let go of it at once (a closed connection's locks linger until its server process has ended).
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(key_of(&format!("instance:{id}"))).execute(&mut conn).await?;
    }
    let _ = conn.close().await;
    Ok(taken == 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_job_is_held_once_until_released() {
        let (_dir, pool) = crate::backend::platform::db::test_pool().await;
        let first = JobLock::try_take(&pool, "unit-test-job").await.unwrap();
        assert!(first.is_some());
        assert!(JobLock::try_take(&pool, "unit-test-job").await.unwrap().is_none(), "taken");
        assert!(JobLock::try_take(&pool, "another-job").await.unwrap().is_some(), "per job");
        drop(first);
        assert!(JobLock::try_take(&pool, "unit-test-job").await.unwrap().is_some(), "released");
        assert_ne!(key_of("a"), key_of("b"));
    }
}
