//! This process's access epoch, and the caches it guards.
//!
//! A signed-in request needs its session record and its membership (role, grants, tenant closure). Both are
//! kept in memory for at most `TTL` after they were read, and only while the access epoch has not moved. The
//! epoch moves after every change that could narrow what a session may do: a session ended (sign-out,
//! revocation, password change, panic button, 2FA policy), a membership changed or removed, a key or a
//! tenant's state changed (`KeyGuard::invalidate_all`), and, as a safety net, after every state-changing HTTP
//! request that succeeded (the server's `access_epoch` middleware). A change made on this instance therefore
//! applies to the very next request here; one made by another process (a second instance, the operator's CLI)
//! applies within `TTL`.
//!
//! The epoch is process-wide: several servers in one process (the tests) only invalidate each other more often.
//! A reader notes the epoch *before* reading the database and `put` stores nothing when the epoch has moved
//! since, so a read that raced with a change never outlives it.
//!
//! A page rendered from these caches can be kept and served again (`server::middleware::page_memo`) only
//! while every entry it read is still the one the caches would serve: each kept value has a generation, and a
//! render run inside `RenderReads::scope` records the generation of everything it reads.
//!
//! `get_or_load` reads a missing or aged value once however many requests ask for it at the same time: the
//! first one loads it, the others that arrive in the same epoch wait for that load and are served its value.
//! One that arrives after the epoch moved loads afresh, as it would have without company.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

static EPOCH: AtomicU64 = AtomicU64::new(0);

/// Numbers every value a cache keeps, so a reader can tell a later value from the one it read.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// How long another process's change may take to apply here.
pub const TTL: Duration = Duration::from_secs(1);

/// Entries per cache before it starts afresh.
const MAX_ENTRIES: usize = 20_000;

/// Moves the epoch: every cached session and membership of this process is read again. Call it after the
/// change committed.
pub fn bump() {
    EPOCH.fetch_add(1, Ordering::SeqCst);
}

/// The current epoch, noted before a database read and handed to `EpochCache::put`.
pub fn current() -> u64 {
    current_of(&EPOCH)
}

struct Entry<V> {
    value: V,
    epoch: u64,
    loaded: Instant,
    generation: u64,
}

impl<V> Entry<V> {
    fn valid(&self, epoch: u64, ttl: Duration) -> bool {
        self.epoch == epoch && self.loaded.elapsed() < ttl
    }
}

/// A map whose entries are valid only in the epoch they were read in, and for at most `TTL`.
pub struct EpochCache<V> {
    shared: Arc<Shared<V>>,
}

struct Shared<V> {
    entries: RwLock<HashMap<String, Entry<V>>>,
    /// The loads under way, at most one a key.
    flights: Mutex<HashMap<String, Flight<V>>>,
    ttl: Duration,
    /// The process's epoch (the tests give each cache its own).
    epoch: &'static AtomicU64,
}

impl<V> Shared<V> {
    /// The generation of `key`'s value, if it is still valid.
    fn generation(&self, key: &str) -> Option<u64> {
        let now = current_of(self.epoch);
        let entries = self.entries.read().ok()?;
        entries.get(key).filter(|e| e.valid(now, self.ttl)).map(|e| e.generation)
    }
}

impl<V> Default for EpochCache<V> {
    fn default() -> Self {
        Self::with(TTL, &EPOCH)
    }
}

impl<V> EpochCache<V> {
    fn with(ttl: Duration, epoch: &'static AtomicU64) -> Self {
        Self { shared: Arc::new(Shared { entries: RwLock::default(), flights: Mutex::default(), ttl, epoch }) }
    }
}

impl<V> std::fmt::Debug for EpochCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochCache").finish_non_exhaustive()
    }
}

impl<V: Clone + Send + Sync + 'static> EpochCache<V> {
    /// The value read for `key` in the current epoch, less than `TTL` ago.
    pub fn get(&self, key: &str) -> Option<V> {
        let (value, generation) = self.get_entry(key)?;
        RenderReads::note(&self.shared, key, Some(generation));
        Some(value)
    }

    fn get_entry(&self, key: &str) -> Option<(V, u64)> {
        let now = current_of(self.shared.epoch);
        let entries = self.shared.entries.read().ok()?;
        let e = entries.get(key)?;
        e.valid(now, self.shared.ttl).then(|| (e.value.clone(), e.generation))
    }

    /// Keeps `value`, read from the database in epoch `read_at`; nothing is kept when the epoch moved since.
    pub fn put(&self, key: String, value: V, read_at: u64) {
        self.keep(key, value, read_at);
    }

    /// `put`, returning the kept value's generation.
    fn keep(&self, key: String, value: V, read_at: u64) -> Option<u64> {
        let shared = &self.shared;
        let mut entries = shared.entries.write().ok()?;
        if current_of(shared.epoch) != read_at {
            return None;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.valid(read_at, shared.ttl));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        // An epoch that moves between the check above and this insert leaves an entry that `get` never returns.
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        entries.insert(key, Entry { value, epoch: read_at, loaded: Instant::now(), generation });
        Some(generation)
    }

    /// The value for `key` from memory, or from `load` (noting the epoch before it runs) and kept. While a load
    /// of `key` that noted the current epoch is under way, its value is awaited instead of loading again; when
    /// that load fails or its request goes away, each caller that waited for it runs its own `load`.
    pub async fn get_or_load<E>(
        &self,
        key: &str,
        load: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        let read_at = current_of(self.shared.epoch);
        let pilot = match self.board(key, read_at) {
            Boarding::Wait(mut landed) => {
                let outcome = landed.wait_for(Option::is_some).await.ok().and_then(|landed| (*landed).clone());
                if let Some((value, generation)) = outcome {
                    RenderReads::note(&self.shared, key, generation);
                    return Ok(value);
                }
                None
            }
            Boarding::Lead(pilot) => Some(pilot),
        };
        let value = load.await?;
        let generation = self.keep(key.to_owned(), value.clone(), read_at);
        if let Some(pilot) = pilot {
            pilot.land(value.clone(), generation);
        }
        RenderReads::note(&self.shared, key, generation);
        Ok(value)
    }

    /// Joins the load of `key` under way in epoch `read_at`, or starts one.
    fn board<'a>(&'a self, key: &'a str, read_at: u64) -> Boarding<'a, V> {
        let Ok(mut flights) = self.shared.flights.lock() else {
            let (send, _) = tokio::sync::watch::channel(None);
            return Boarding::Lead(Pilot { shared: &self.shared, key, id: 0, send });
        };
        if let Some(flight) = flights.get(key).filter(|f| f.read_at == read_at) {
            return Boarding::Wait(flight.landed.clone());
        }
        let (send, landed) = tokio::sync::watch::channel(None);
        let id = GENERATION.fetch_add(1, Ordering::Relaxed);
        flights.insert(key.to_owned(), Flight { id, read_at, landed });
        Boarding::Lead(Pilot { shared: &self.shared, key, id, send })
    }
}

/// A value on its way from the database, and the generation it was kept under (`None`: not kept, the epoch
/// moved during the load).
type Landed<V> = Option<(V, Option<u64>)>;

/// One load under way: the epoch it noted before reading, and where its value will appear.
struct Flight<V> {
    id: u64,
    read_at: u64,
    landed: tokio::sync::watch::Receiver<Landed<V>>,
}

enum Boarding<'a, V> {
    /// Another request is loading the value: wait for it.
    Wait(tokio::sync::watch::Receiver<Landed<V>>),
    /// This request loads it.
    Lead(Pilot<'a, V>),
}

/// The request running a load. Dropped, landed or not (the load failed, the request went away), it takes its
/// flight off the board, and the callers waiting for it see the channel close and load for themselves.
struct Pilot<'a, V> {
    shared: &'a Shared<V>,
    key: &'a str,
    id: u64,
    send: tokio::sync::watch::Sender<Landed<V>>,
}

impl<V> Pilot<'_, V> {
    fn land(self, value: V, generation: Option<u64>) {
        self.send.send_replace(Some((value, generation)));
    }
}

impl<V> Drop for Pilot<'_, V> {
    fn drop(&mut self) {
        if let Ok(mut flights) = self.shared.flights.lock() {
            if flights.get(self.key).is_some_and(|f| f.id == self.id) {
                flights.remove(self.key);
            }
        }
    }
}

tokio::task_local! {
    static READS: Arc<RenderReads>;
}

/// Tells whether a cache would still serve the value a render read.
type Check = Box<dyn Fn() -> bool + Send + Sync>;

/// What one page render read from the epoch caches (each value's cache, key and generation), so the page can
/// be served again exactly as long as every one of them is still the value the caches hold. A value that was
/// read but not kept (the epoch moved during the load) is recorded as never current.
#[derive(Default)]
pub struct RenderReads {
    checks: Mutex<Vec<Check>>,
}

impl std::fmt::Debug for RenderReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderReads").finish_non_exhaustive()
    }
}

impl RenderReads {
    /// Runs `work` recording into `reads` what it reads from the caches.
    pub async fn scope<F: std::future::Future>(reads: Arc<Self>, work: F) -> F::Output {
        READS.scope(reads, work).await
    }

    fn note<V: Send + Sync + 'static>(shared: &Arc<Shared<V>>, key: &str, generation: Option<u64>) {
        let _ = READS.try_with(|reads| {
            let check: Check = match generation {
                Some(generation) => {
                    let (shared, key) = (shared.clone(), key.to_owned());
                    Box::new(move || shared.generation(&key) == Some(generation))
                }
                None => Box::new(|| false),
            };
            if let Ok(mut checks) = reads.checks.lock() {
                checks.push(check);
            }
        });
    }

    /// Records a read made straight from the database in epoch `read_at`: current in that epoch, for `TTL`
    /// (another process's change), and while `holds` (what the read decided by the clock, such as that nothing
    /// listed has expired yet).
    pub fn note_database_read(read_at: u64, holds: impl Fn() -> bool + Send + Sync + 'static) {
        let loaded = Instant::now();
        let _ = READS.try_with(|reads| {
            if let Ok(mut checks) = reads.checks.lock() {
                checks.push(Box::new(move || current() == read_at && loaded.elapsed() < TTL && holds()));
            }
        });
    }

    /// What was recorded, taken out: `None` when nothing was (a page that read no cache is not kept).
    pub fn take(&self) -> Option<ReadSet> {
        let checks = std::mem::take(&mut *self.checks.lock().ok()?);
        (!checks.is_empty()).then_some(ReadSet(checks))
    }
}

/// The values one render read.
pub struct ReadSet(Vec<Check>);

impl ReadSet {
    /// Whether every value read is still the one its cache holds (same generation, same epoch, within `TTL`).
    pub fn current(&self) -> bool {
        self.0.iter().all(|check| check())
    }
}

fn current_of(epoch: &AtomicU64) -> u64 {
    epoch.load(Ordering::SeqCst)
}

/// What a page or the API shows that many requests in a row ask for, read once per epoch and second: the
/// overview's figures per membership, a tenant's member list and its two-factor requirement. Figures of an attack in progress (failed
/// sign-ins change nothing and move no epoch) are therefore at most a second old.
#[derive(Debug, Default)]
pub struct RecentReads {
    pub overviews: EpochCache<crate::model::OverviewView>,
    pub members: EpochCache<std::sync::Arc<MemberList>>,
    pub two_factor_required: EpochCache<bool>,
}

/// A tenant's members as read in one epoch, and the REST API's JSON of them, written (and gzipped, for the
/// clients that accept it) once per read: it does not depend on the key asking; the route's checks run on
/// every request before it is served.
#[derive(Debug)]
pub struct MemberList {
    pub members: Vec<crate::model::MemberView>,
    json: std::sync::OnceLock<std::sync::Arc<[u8]>>,
    gzipped: std::sync::OnceLock<std::sync::Arc<[u8]>>,
}

impl MemberList {
    pub fn new(members: Vec<crate::model::MemberView>) -> Self {
        Self { members, json: std::sync::OnceLock::new(), gzipped: std::sync::OnceLock::new() }
    }

    /// The list as `write` renders it, rendered by the first caller of this read and shared afterwards.
    pub fn json(&self, write: impl FnOnce(&[crate::model::MemberView]) -> Vec<u8>) -> std::sync::Arc<[u8]> {
        self.json.get_or_init(|| write(&self.members).into()).clone()
    }

    /// `json`, gzipped by the first caller that asks for it.
    pub fn json_gzipped(&self, write: impl FnOnce(&[crate::model::MemberView]) -> Vec<u8>) -> std::sync::Arc<[u8]> {
        self.gzipped.get_or_init(|| crate::backend::platform::gzip::compress(&self.json(write)).into()).clone()
    }
}

#[cfg(test)]
mod tests;
