//! Internal failures, in one place. [`internal`] turns an unexpected error into `AppError::Internal`: its
//! operation id is the request's id (what the user reads as "ref …" and finds in `X-Request-Id`), it is logged
//! once with its error chain, and it becomes an **error report** for the operator — recorded once per
//! fingerprint (its kind and code location) with a count, the time, request id, route, tenant, version and
//! the chain. A report never holds a request body, a header or a secret: callers pass errors, not inputs, and
//! the route is the path with link tokens cut out.
//!
//! The server's error-report middleware opens a [`Scope`] around every request; a 5xx that no `internal` call
//! explained, and a panic, are reported there (`report_response`, `report_panic`). Reports are written by one
//! background writer, so a failing request never waits for them.

use crate::backend::platform::clock::Clock;
use crate::backend::platform::ids::op_id;
use crate::model::AppError;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyPool, Row as _};
use std::fmt::Display;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Reports waiting for the writer; past this, new ones are logged only.
const QUEUE: usize = 1024;
/// The longest error chain kept.
const MAX_CHAIN: usize = 4000;

/// One occurrence of a failure.
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: String,
    pub location: String,
    pub status: u16,
    pub chain: String,
    pub request_id: String,
    pub route: String,
    pub tenant_id: Option<String>,
}

impl Report {
    /// Same kind at the same place: the same report, counted again.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(format!("{}\n{}", self.kind, self.location));
        hex::encode(&digest[..8])
    }
}

enum Msg {
    Report(Report),
    Flush(oneshot::Sender<()>),
}

/// The handle of the error-report writer.
#[derive(Clone)]
pub struct Reports {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports").field("queued", &(QUEUE - self.tx.capacity())).finish()
    }
}

impl Reports {
    /// Starts the writer on the current runtime.
    pub fn start(pool: AnyPool, clock: Arc<dyn Clock>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(pool, clock, rx));
        Self { tx }
    }

    /// Queues a report without waiting: a full queue drops it (the log line stays).
    pub fn record(&self, report: Report) {
        if self.tx.try_send(Msg::Report(report)).is_err() {
            tracing::warn!("error-report queue full or stopped; a report was not recorded");
        }
    }

    /// Waits until every report queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn writer(pool: AnyPool, clock: Arc<dyn Clock>, mut rx: mpsc::Receiver<Msg>) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Flush(done) => {
                let _ = done.send(());
            }
            Msg::Report(report) => {
                if let Err(err) = save(&pool, clock.now_ms(), &report).await {
                    tracing::warn!(error = %err, "error report not saved");
                }
            }
        }
    }
}

async fn save(pool: &AnyPool, now: i64, r: &Report) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO error_reports (fingerprint, kind, location, status, chain, first_seen, last_seen, occurrences, \
         request_id, route, tenant_id, version) VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $7, $8, $9, $10) \
         ON CONFLICT (fingerprint) DO UPDATE SET occurrences = error_reports.occurrences + 1, last_seen = $6, \
         status = $4, chain = $5, request_id = $7, route = $8, tenant_id = $9, version = $10",
    )
    .bind(r.fingerprint())
    .bind(&r.kind)
    .bind(&r.location)
    .bind(i64::from(r.status))
    .bind(&r.chain)
    .bind(now)
    .bind(&r.request_id)
    .bind(&r.route)
    .bind(r.tenant_id.as_deref())
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(pool)
    .await?;
    Ok(())
}

/// What a request being served knows for its reports.
#[derive(Debug)]
pub struct Scope {
    reports: Reports,
    request_id: String,
    route: String,
    tenant_id: Mutex<Option<String>>,
    reported: AtomicBool,
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

impl Scope {
    pub fn new(reports: Reports, request_id: String, route: String) -> Arc<Self> {
        Arc::new(Self { reports, request_id, route, tenant_id: Mutex::new(None), reported: AtomicBool::new(false) })
    }

    /// Runs a request inside this scope.
    pub async fn run<F: std::future::Future>(self: Arc<Self>, fut: F) -> F::Output {
        SCOPE.scope(self, fut).await
    }

    fn record(&self, kind: String, location: String, status: u16, chain: String) {
        self.reported.store(true, Ordering::Relaxed);
        let tenant_id = self.tenant_id.lock().ok().and_then(|t| t.clone());
        self.reports.record(Report {
            kind,
            location,
            status,
            chain,
            request_id: self.request_id.clone(),
            route: self.route.clone(),
            tenant_id,
        });
    }

    /// A response of `status`: a 5xx that no `internal` call reported yet is reported as such (an outage, a
    /// timeout, a framework failure).
    pub fn report_response(&self, status: u16) {
        if status >= 500 && !self.reported.load(Ordering::Relaxed) {
            let kind = format!("response {status}");
            self.record(kind.clone(), self.route.clone(), status, kind);
        }
    }

    /// A panic caught while serving: its message and where it happened.
    pub fn report_panic(&self, message: &str, location: &str) {
        self.record("panic".to_owned(), location.to_owned(), 500, truncate(message));
    }
}

/// Notes the tenant the current request acts in (called where a tenant context is built).
pub fn note_tenant(tenant_id: &str) {
    let _ = SCOPE.try_with(|s| {
        if let Ok(mut t) = s.tenant_id.lock() {
            *t = Some(tenant_id.to_owned());
        }
    });
}

/// An unexpected failure: logged once with its chain and reported (inside a request), answered as
/// `AppError::Internal` with the request's id as its reference. `kind` names what failed ("database",
/// "vault storage", …); the caller's location tells where.
#[track_caller]
pub fn internal(kind: &str, err: impl Display) -> AppError {
    internal_at(kind, &err, Location::caller())
}

/// [`internal`] for an error with sources: the whole chain is kept, outermost first.
#[track_caller]
pub fn internal_chain(kind: &str, err: &(dyn std::error::Error + 'static)) -> AppError {
    internal_at(kind, &chain(err), Location::caller())
}

fn internal_at(kind: &str, err: &dyn Display, at: &Location<'_>) -> AppError {
    let op_id = op_id();
    let location = format!("{}:{}", at.file(), at.line());
    let chain = truncate(&err.to_string());
    tracing::error!(op_id = %op_id, kind, location = %location, error = %chain, "internal error");
    let _ = SCOPE.try_with(|s| s.record(kind.to_owned(), location, 500, chain));
    AppError::Internal { op_id }
}

/// An error and its sources, outermost first: `a: b: c`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !out.ends_with(&next) {
            out.push_str(": ");
            out.push_str(&next);
        }
        source = s.source();
    }
    out
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_CHAIN {
        return s.to_owned();
    }
    let mut end = MAX_CHAIN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A stored report, for the operator's CLI and the daily email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub fingerprint: String,
    pub kind: String,
    pub location: String,
    pub status: i64,
    pub chain: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub occurrences: i64,
    pub request_id: String,
    pub route: String,
    pub tenant_id: Option<String>,
    pub version: String,
}

const COLUMNS: &str = "fingerprint, kind, location, status, chain, first_seen, last_seen, occurrences, request_id, \
                       route, tenant_id, version";

fn stored(row: &sqlx::any::AnyRow) -> Result<StoredReport, sqlx::Error> {
    Ok(StoredReport {
        fingerprint: row.try_get("fingerprint")?,
        kind: row.try_get("kind")?,
        location: row.try_get("location")?,
        status: row.try_get("status")?,
        chain: row.try_get("chain")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        occurrences: row.try_get("occurrences")?,
        request_id: row.try_get("request_id")?,
        route: row.try_get("route")?,
        tenant_id: row.try_get("tenant_id")?,
        version: row.try_get("version")?,
    })
}

/// Every report, the most recent first.
pub async fn list(pool: &AnyPool) -> Result<Vec<StoredReport>, sqlx::Error> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM error_reports ORDER BY last_seen DESC, fingerprint"))
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored).collect()
}

/// One report by its fingerprint (or an unambiguous prefix of at least 4 characters).
pub async fn find(pool: &AnyPool, id: &str) -> Result<Option<StoredReport>, sqlx::Error> {
    if id.len() < 4 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM error_reports WHERE fingerprint LIKE $1 LIMIT 2"))
        .bind(format!("{}%", id.to_ascii_lowercase()))
        .fetch_all(pool)
        .await?;
    match rows.as_slice() {
        [one] => Ok(Some(stored(one)?)),
        _ => Ok(None),
    }
}

/// The operator's daily email: when none went out in the last 24 hours, the reports new or seen again since
/// they were last emailed go to `send`, and are marked emailed (time and count) once it succeeded. Returns how
/// many.
pub async fn daily_email<F, Fut>(pool: &AnyPool, now: i64, send: F) -> Result<usize, AppError>
where
    F: FnOnce(Vec<StoredReport>) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(emailed_at) FROM error_reports").fetch_one(pool).await?;
    if last.is_some_and(|t| now - t < crate::backend::platform::clock::DAY_MS) {
        return Ok(0);
    }
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM error_reports WHERE occurrences > emailed_occurrences \
         ORDER BY occurrences DESC, fingerprint"
    ))
    .fetch_all(pool)
    .await?;
    let due = rows.iter().map(stored).collect::<Result<Vec<_>, _>>()?;
    if due.is_empty() {
        return Ok(0);
    }
    let listed: Vec<(String, i64)> = due.iter().map(|r| (r.fingerprint.clone(), r.occurrences)).collect();
    send(due).await?;
    for (id, occurrences) in &listed {
        sqlx::query("UPDATE error_reports SET emailed_at = $1, emailed_occurrences = $2 WHERE fingerprint = $3")
            .bind(now)
            .bind(occurrences)
            .bind(id)
            .execute(pool)
            .await?;
    }
    Ok(listed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_lists_every_source_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "reading the blob")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other("disk gone"));
        assert_eq!(chain(&e), "reading the blob: disk gone");
    }

    #[test]
    fn the_fingerprint_is_kind_and_place_not_the_message() {
        let r = |kind: &str, location: &str, chain: &str| Report {
            kind: kind.to_owned(),
            location: location.to_owned(),
            status: 500,
            chain: chain.to_owned(),
            request_id: "r".to_owned(),
            route: "/x".to_owned(),
            tenant_id: None,
        };
        assert_eq!(r("database", "a.rs:1", "one").fingerprint(), r("database", "a.rs:1", "two").fingerprint());
        assert_ne!(r("database", "a.rs:1", "x").fingerprint(), r("database", "a.rs:2", "x").fingerprint());
        assert_ne!(r("database", "a.rs:1", "x").fingerprint(), r("panic", "a.rs:1", "x").fingerprint());
        assert_eq!(r("k", "l", "c").fingerprint().len(), 16);
    }

    #[test]
    fn long_chains_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_CHAIN);
        let cut = truncate(&long);
        assert!(cut.len() <= MAX_CHAIN + '…'.len_utf8());
        assert!(cut.ends_with('…'));
    }
}
