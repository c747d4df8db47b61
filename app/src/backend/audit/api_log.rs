//! The access-history record of every REST request (key, IP, method, path, status, duration, and for a refusal
//! its precise reason), written in batches by one background writer so no request waits on a disk flush.
//!
//! - A request's event is queued before its response leaves; the queue is bounded, so a stalled database
//!   slows requests down (back-pressure) instead of dropping events.
//! - A failed batch is retried until it is written; `flush` (called on a clean stop, after the last
//!   connection closed) returns once everything queued before it is in the database.
//! - Each batch also records where each key secret was used from (`api_key_usage`) and the key's last
//!   accepted use.

use crate::backend::audit::chain::{append, EventRow};
use crate::backend::audit::Outcome;
use crate::backend::platform::crypto::ServerKeys;
use crate::backend::platform::ids::{new_event_id, TenantId};
use crate::backend::platform::metrics::Metrics;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Events written per transaction at most.
const BATCH: usize = 512;
/// Events waiting at most before requests wait for the writer.
const QUEUE: usize = 65_536;
/// How long the writer lets a batch gather before writing it. Every commit rewrites the last page of the
/// events table and of each of its dozen indexes, whatever the number of rows: under load, batches of a few
/// events wrote about three pages per event (1.1 million page writes in 10 s of `GET /api/v1/members`).
const GATHER: Duration = Duration::from_millis(3);

/// One REST request (or refused key presentation), as the access history records it.
#[derive(Debug, Clone)]
pub struct ApiEvent {
    pub tenant_id: Option<TenantId>,
    pub key_id: Option<String>,
    /// Which secret of the key was presented.
    pub generation: Option<i64>,
    pub actor: String,
    pub action: &'static str,
    pub outcome: Outcome,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    pub at_ms: i64,
    /// Whether the key was accepted (only accepted uses count as "last used").
    pub accepted: bool,
}

enum Msg {
    /// An event and when it was queued (the metrics' lag).
    Event(Box<ApiEvent>, Instant),
    Flush(oneshot::Sender<()>),
}

/// The handle requests record through; cheap to clone.
#[derive(Clone)]
pub struct ApiLog {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for ApiLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiLog").field("queued", &(QUEUE - self.tx.capacity())).finish()
    }
}

impl ApiLog {
    /// Starts the writer on the current runtime.
    pub fn start(pool: AnyPool, keys: Arc<ServerKeys>, metrics: Metrics) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(pool, keys, rx, metrics));
        Self { tx }
    }

    /// Messages waiting for the writer.
    pub fn queued(&self) -> usize {
        QUEUE.saturating_sub(self.tx.capacity())
    }

    /// Queues an event (waits only while the queue is full).
    pub async fn record(&self, event: ApiEvent) {
        if self.tx.send(Msg::Event(Box::new(event), Instant::now())).await.is_err() {
            tracing::error!("access-history writer stopped; an API request event was not recorded");
        }
    }

    /// Returns once every event queued before this call is written.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

async fn writer(pool: AnyPool, keys: Arc<ServerKeys>, mut rx: mpsc::Receiver<Msg>, metrics: Metrics) {
    let mut buf = Vec::with_capacity(BATCH);
    loop {
        if rx.recv_many(&mut buf, BATCH).await == 0 {
            return;
        }
        // A flush asked for is written at once; otherwise the events of the requests in flight join this batch.
        if buf.len() < BATCH && !buf.iter().any(|m| matches!(m, Msg::Flush(_))) {
            tokio::time::sleep(GATHER).await;
            while buf.len() < BATCH {
                match rx.try_recv() {
                    Ok(m) => buf.push(m),
                    Err(_) => break,
                }
            }
        }
        let mut events = Vec::with_capacity(buf.len());
        let mut acks = Vec::new();
        let mut oldest: Option<Instant> = None;
        for m in buf.drain(..) {
            match m {
                Msg::Event(e, queued) => {
                    events.push(Pending::from(*e));
                    oldest = Some(oldest.map_or(queued, |o| o.min(queued)));
                }
                Msg::Flush(ack) => acks.push(ack),
            }
        }
        let mut delay = Duration::from_millis(100);
        while let Err(err) = write_batch(&pool, &keys, &events).await {
            tracing::error!(error = %err, events = events.len(), "writing API request events failed; retrying");
            metrics.api_log_write_failed();
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        if let Some(oldest) = oldest {
            metrics.api_log_batch(events.len(), oldest.elapsed());
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
}

/// An event as the batch writes it: its row (the event's strings moved in, its id drawn once, so a retried
/// batch writes the same ids) and what the key's usage needs besides.
struct Pending {
    row: EventRow,
    generation: Option<i64>,
    accepted: bool,
}

impl From<ApiEvent> for Pending {
    fn from(e: ApiEvent) -> Self {
        Self {
            row: EventRow {
                id: new_event_id(),
                tenant_id: e.tenant_id.map(|t| t.0),
                account_id: None,
                actor: e.actor,
                action: e.action.to_owned(),
                outcome: e.outcome.as_str().to_owned(),
                ip: e.ip,
                user_agent: e.user_agent,
                detail: e.detail,
                created_at: e.at_ms,
                key_id: e.key_id,
            },
            generation: e.generation,
            accepted: e.accepted,
        }
    }
}

async fn write_batch(pool: &AnyPool, keys: &ServerKeys, events: &[Pending]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let mut tx = crate::backend::platform::db::begin_write(pool).await?;
    // Usage and last use first: every transaction takes the chain heads' locks last, so none waits crosswise.
    // Where each secret was used from, refused uses included (a client still on an old secret shows up).
    // (key, generation, ip, user agent) → (first use, last use, uses)
    type Origin<'a> = (&'a str, i64, &'a str, &'a str);
    let mut usage: HashMap<Origin<'_>, (i64, i64, i64)> = HashMap::new();
    let mut last: HashMap<&str, &EventRow> = HashMap::new();
    for Pending { row: e, generation, accepted } in events {
        let (Some(key), Some(generation)) = (e.key_id.as_deref(), *generation) else {
            continue;
        };
        let slot = usage.entry((key, generation, &e.ip, &e.user_agent)).or_insert((e.created_at, e.created_at, 0));
        slot.0 = slot.0.min(e.created_at);
        slot.1 = slot.1.max(e.created_at);
        slot.2 += 1;
        if *accepted && last.get(key).is_none_or(|l| l.created_at <= e.created_at) {
            last.insert(key, e);
        }
    }
    for ((key, generation, ip, ua), (first, latest, uses)) in usage {
        sqlx::query(
            "INSERT INTO api_key_usage (key_id, generation, ip, user_agent, first_used_at, last_used_at, uses) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (key_id, generation, ip, user_agent) DO UPDATE SET \
             last_used_at = CASE WHEN excluded.last_used_at > api_key_usage.last_used_at \
                            THEN excluded.last_used_at ELSE api_key_usage.last_used_at END, \
             uses = api_key_usage.uses + excluded.uses",
        )
        .bind(key)
        .bind(generation)
        .bind(ip)
        .bind(ua)
        .bind(first)
        .bind(latest)
        .bind(uses)
        .execute(&mut *tx)
        .await?;
    }
    for (key, e) in last {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1, last_used_ip = $2, last_used_ua = $3 \
             WHERE id = $4 AND (last_used_at IS NULL OR last_used_at <= $1)",
        )
        .bind(e.created_at)
        .bind(e.ip.as_str())
        .bind(e.user_agent.as_str())
        .bind(key)
        .execute(&mut *tx)
        .await?;
    }
    let rows: Vec<&EventRow> = events.iter().map(|p| &p.row).collect();
    let now = events.iter().map(|p| p.row.created_at).max().unwrap_or(0);
    append(&mut tx, keys, now, &rows).await?;
    tx.commit().await
}
