//! Counters shared by every instance through the database (`shared_counters`): one atomic
//! `INSERT … ON CONFLICT … DO UPDATE … RETURNING` per count, so two instances counting the same subject at
//! the same moment both see the total. Windows are fixed; [`sliding`] weighs the previous window in, so a
//! burst across a window's edge is not counted twice as leniently.

use sqlx::AnyConnection;

/// Adds one to `subject`'s count in `scope` for the window starting at `window_start`; returns the new count.
/// The row may be swept after `expires_at`.
pub async fn add(
    conn: &mut AnyConnection,
    scope: &str,
    subject: &str,
    window_start: i64,
    expires_at: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO shared_counters (scope, subject, window_start, count, expires_at) VALUES ($1, $2, $3, 1, $4) \
         ON CONFLICT (scope, subject, window_start) DO UPDATE SET count = shared_counters.count + 1 \
         RETURNING count",
    )
    .bind(scope)
    .bind(subject)
    .bind(window_start)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await
}

/// `subject`'s count in `scope` for the window starting at `window_start` (0 when there is none).
pub async fn read(conn: &mut AnyConnection, scope: &str, subject: &str, window_start: i64) -> Result<i64, sqlx::Error> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT count FROM shared_counters WHERE scope = $1 AND subject = $2 AND window_start = $3")
            .bind(scope)
            .bind(subject)
            .bind(window_start)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(n.unwrap_or(0))
}

/// Counts one more for `subject` and returns the sliding-window estimate: this window's count plus the
/// previous window's, weighted by how much of it still lies within one window of `now`.
pub async fn sliding(
    conn: &mut AnyConnection,
    scope: &str,
    subject: &str,
    window_ms: i64,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let start = now.div_euclid(window_ms) * window_ms;
    let current = add(conn, scope, subject, start, start + 2 * window_ms).await?;
    let previous = read(conn, scope, subject, start - window_ms).await?;
    let left = window_ms - (now - start);
    // Rounded up: the estimate never falls below what a sliding window would count.
    Ok(current + (previous * left + window_ms - 1) / window_ms)
}

/// Deletes the rows past their expiry; returns how many.
pub async fn sweep(conn: &mut AnyConnection, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM shared_counters WHERE expires_at < $1").bind(now).execute(&mut *conn).await?;
    Ok(done.rows_affected())
}
