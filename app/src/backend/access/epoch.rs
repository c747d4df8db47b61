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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

static EPOCH: AtomicU64 = AtomicU64::new(0);

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
}

/// A map whose entries are valid only in the epoch they were read in, and for at most `TTL`.
pub struct EpochCache<V> {
    entries: RwLock<HashMap<String, Entry<V>>>,
    ttl: Duration,
    /// The process's epoch (the tests give each cache its own).
    epoch: &'static AtomicU64,
}

impl<V> Default for EpochCache<V> {
    fn default() -> Self {
        Self { entries: RwLock::default(), ttl: TTL, epoch: &EPOCH }
    }
}

impl<V> std::fmt::Debug for EpochCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochCache").finish_non_exhaustive()
    }
}

impl<V: Clone> EpochCache<V> {
    /// The value read for `key` in the current epoch, less than `TTL` ago.
    pub fn get(&self, key: &str) -> Option<V> {
        let now = current_of(self.epoch);
        let entries = self.entries.read().ok()?;
        let e = entries.get(key)?;
        (e.epoch == now && e.loaded.elapsed() < self.ttl).then(|| e.value.clone())
    }

    /// Keeps `value`, read from the database in epoch `read_at`; nothing is kept when the epoch moved since.
    pub fn put(&self, key: String, value: V, read_at: u64) {
        let Ok(mut entries) = self.entries.write() else { return };
        if current_of(self.epoch) != read_at {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.epoch == read_at && e.loaded.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        // An epoch that moves between the check above and this insert leaves an entry that `get` never returns.
        entries.insert(key, Entry { value, epoch: read_at, loaded: Instant::now() });
    }

    /// The value for `key` from memory, or from `load` (noting the epoch before it runs) and kept.
    pub async fn get_or_load<E>(
        &self,
        key: &str,
        load: impl std::future::Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if let Some(value) = self.get(key) {
            return Ok(value);
        }
        let read_at = current_of(self.epoch);
        let value = load.await?;
        self.put(key.to_owned(), value.clone(), read_at);
        Ok(value)
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

/// A tenant's members as read in one epoch, and the REST API's JSON of them, written once per read (it does not
/// depend on the key asking; the route's checks run on every request before it is served).
#[derive(Debug)]
pub struct MemberList {
    pub members: Vec<crate::model::MemberView>,
    json: std::sync::OnceLock<std::sync::Arc<[u8]>>,
}

impl MemberList {
    pub fn new(members: Vec<crate::model::MemberView>) -> Self {
        Self { members, json: std::sync::OnceLock::new() }
    }

    /// The list as `write` renders it, rendered by the first caller of this read and shared afterwards.
    pub fn json(&self, write: impl FnOnce(&[crate::model::MemberView]) -> Vec<u8>) -> std::sync::Arc<[u8]> {
        self.json.get_or_init(|| write(&self.members).into()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache with its own epoch (other tests bump the process's one concurrently).
    fn cache(ttl: Duration) -> (EpochCache<u32>, &'static AtomicU64) {
        let epoch: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
        (EpochCache { entries: RwLock::default(), ttl, epoch }, epoch)
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_kept() {
        let (cache, epoch) = cache(TTL);
        let read_at = epoch.load(Ordering::SeqCst);
        epoch.fetch_add(1, Ordering::SeqCst);
        cache.put("a".into(), 1, read_at);
        assert_eq!(cache.get("a"), None, "read before the change, stored after it");
        cache.put("a".into(), 2, epoch.load(Ordering::SeqCst));
        assert_eq!(cache.get("a"), Some(2));
    }

    #[test]
    fn a_change_hides_every_entry_and_age_expires_them() {
        let (cache, epoch) = cache(TTL);
        cache.put("a".into(), 1, 0);
        assert_eq!(cache.get("a"), Some(1));
        epoch.fetch_add(1, Ordering::SeqCst);
        assert_eq!(cache.get("a"), None, "any change since the read");
        let (aged, _) = self::cache(Duration::ZERO);
        aged.put("b".into(), 2, 0);
        assert_eq!(aged.get("b"), None, "older than the TTL: another process may have changed it");
        cache.put("c".into(), 3, 1);
        assert_eq!(cache.get("c"), Some(3));
    }

    /// `get_or_load` notes the epoch before its load runs: a change during the load keeps the value out.
    #[tokio::test]
    async fn a_load_that_raced_with_a_change_is_served_but_not_kept() {
        let (cache, epoch) = cache(TTL);
        let loaded = cache.get_or_load("a", async {
            epoch.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(1)
        });
        assert_eq!(loaded.await, Ok(1));
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.get_or_load("a", async { Ok::<_, ()>(2) }).await, Ok(2));
        assert_eq!(cache.get_or_load("a", async { Ok::<_, ()>(3) }).await, Ok(2), "kept, not loaded again");
    }
}
