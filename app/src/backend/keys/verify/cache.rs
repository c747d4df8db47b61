//! The verification cache, the per-key hourly counters, the unrecognised-key throttle and the canary alert
//! throttle of this instance (`KeyGuard`), kept apart from `verify` itself.

use super::*;
use crate::backend::platform::counters;
use sqlx::AnyPool;

struct Cached {
    loaded_at: i64,
    key: Arc<ActiveKey>,
}

/// The verification cache, rate counters and canary alert throttle of this instance.
#[derive(Default)]
pub struct KeyGuard {
    cache: RwLock<HashMap<String, Cached>>,
    /// Bumped by every invalidation: a lookup that read the database before an invalidation must not put
    /// what it read into the cache after it (a revoke would be undone until the entry ages out).
    epoch: std::sync::atomic::AtomicU64,
    /// (key, client) pairs whose hourly count the database reported full, with the hour: refused here without
    /// asking again until the hour ends (it can only make the limit stricter, never looser).
    full: Mutex<HashMap<(String, IpAddr), i64>>,
    /// Accepted uses on this instance not yet necessarily in the database (the access history is batched).
    last_used: Mutex<HashMap<String, i64>>,
    /// Refusals of unrecognised or malformed keys per client address (IPv6 by /64) in the current minute:
    /// (minute, refusals, of which answered 429).
    unknown: Mutex<HashMap<IpAddr, (i64, u64, u64)>>,
    /// Minutes that ended before `drain_unknown` took them.
    unknown_closed: Mutex<Vec<UnknownSummary>>,
    /// The operator's `api_unknown_keys_per_minute` (0: `UNKNOWN_PER_MINUTE`).
    unknown_limit: u64,
}

/// Unrecognised or malformed keys one client address may present per minute before it gets 429s, unless the
/// operator set `api_unknown_keys_per_minute`.
pub const UNKNOWN_PER_MINUTE: u64 = 20;

/// What to do with a refusal of an unrecognised key (`KeyGuard::note_unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownKey {
    /// The address's first this minute: recorded on its own.
    First,
    /// Folded into the address's count for the minute (one summary event when the minute ends).
    Folded,
    /// Over the limit: answered 429 (and folded too).
    Throttled { retry_after: u64 },
}

/// A closed minute of unrecognised keys from one address: the refusals after the first, and how many of
/// them were answered 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSummary {
    pub ip: IpAddr,
    pub minute_start_ms: i64,
    pub folded: u64,
    pub throttled: u64,
}

impl std::fmt::Debug for KeyGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyGuard").finish_non_exhaustive()
    }
}

impl KeyGuard {
    /// A guard that answers 429 past `limit` unrecognised keys per address and minute (0: the default).
    pub fn with_unknown_limit(limit: u64) -> Self {
        Self { unknown_limit: limit, ..Self::default() }
    }

    /// Forgets every cached key (after any change to a key or a tenant's key policy).
    pub fn invalidate_all(&self) {
        // Under the write lock, so that `remember` sees either the old epoch and an empty map after us, or the
        // new epoch.
        if let Ok(mut c) = self.cache.write() {
            self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            c.clear();
        }
        // Whatever changed a key or a tenant may have changed sessions and memberships too.
        crate::backend::access::epoch::bump();
    }

    /// The invalidation epoch, read before a database lookup and handed to `remember`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(super) fn cached(&self, digest: &str, now: i64) -> Option<Arc<ActiveKey>> {
        let c = self.cache.read().ok()?;
        c.get(digest).filter(|e| (0..CACHE_TTL_MS).contains(&(now - e.loaded_at))).map(|e| e.key.clone())
    }

    /// Caches a key read at invalidation epoch `read_at`; nothing is cached if any invalidation came since.
    pub(super) fn remember(&self, digest: String, key: Arc<ActiveKey>, now: i64, read_at: u64) {
        if let Ok(mut c) = self.cache.write() {
            if self.epoch() != read_at {
                return;
            }
            if c.len() >= CACHE_MAX {
                c.clear();
            }
            c.insert(digest, Cached { loaded_at: now, key });
        }
    }

    /// Counts a request against the key's hourly limit per client, in the counters every instance shares;
    /// `Ok(Err(seconds))` when this hour is full.
    pub(super) async fn count(
        &self,
        pool: &AnyPool,
        key: &ActiveKey,
        ip: IpAddr,
        now: i64,
    ) -> Result<Result<(), u64>, sqlx::Error> {
        let Some(limit) = key.rate_per_hour else {
            return Ok(Ok(()));
        };
        let window = now.div_euclid(HOUR_MS);
        let retry = u64::try_from(((window + 1) * HOUR_MS - now + 999) / 1000).unwrap_or(1).max(1);
        // An IPv6 client is one /64, as for sign-ins: rotating addresses inside it gains nothing.
        let ip = crate::backend::network::ip_guard::counted_as(ip);
        let slot = (key.id.clone(), ip);
        if self.full.lock().is_ok_and(|f| f.get(&slot) == Some(&window)) {
            return Ok(Err(retry));
        }
        let mut conn = pool.acquire().await?;
        let subject = format!("{}|{ip}", key.id);
        let count = counters::add(&mut conn, "key_hour", &subject, window * HOUR_MS, (window + 1) * HOUR_MS).await?;
        if count <= limit {
            return Ok(Ok(()));
        }
        if let Ok(mut full) = self.full.lock() {
            if full.len() >= COUNTERS_MAX {
                full.retain(|_, w| *w == window);
            }
            full.insert(slot, window);
        }
        Ok(Err(retry))
    }

    pub(super) fn last_activity(&self, key: &ActiveKey) -> i64 {
        let seen = self.last_used.lock().ok().and_then(|m| m.get(&key.id).copied()).unwrap_or(0);
        key.last_activity.max(seen)
    }

    pub(super) fn note_use(&self, key_id: &str, now: i64) {
        if let Ok(mut m) = self.last_used.lock() {
            if m.len() >= CACHE_MAX {
                m.clear();
            }
            m.insert(key_id.to_owned(), now);
        }
    }

    /// Counts a refusal of an unrecognised or malformed key from `ip`: anonymous callers cannot grow the
    /// access history by more than two rows per address per minute, nor try keys faster than the limit.
    /// `presented`: a key was sent (a request without one has nothing to guess and is never answered 429).
    pub fn note_unknown(&self, ip: IpAddr, now: i64, presented: bool) -> UnknownKey {
        let minute = now.div_euclid(MINUTE_MS);
        let ip = crate::backend::network::ip_guard::counted_as(ip);
        let Ok(mut m) = self.unknown.lock() else { return UnknownKey::Folded };
        if m.len() >= COUNTERS_MAX {
            m.retain(|_, (w, _, _)| *w == minute);
        }
        let slot = m.entry(ip).or_insert((minute, 0, 0));
        if slot.0 != minute {
            // The previous minute's count waits for `drain_unknown`; a new minute starts afresh.
            if slot.1 > 1 {
                if let Ok(mut closed) = self.unknown_closed.lock() {
                    if closed.len() < COUNTERS_MAX {
                        closed.push(UnknownSummary {
                            ip,
                            minute_start_ms: slot.0 * MINUTE_MS,
                            folded: slot.1 - 1,
                            throttled: slot.2,
                        });
                    }
                }
            }
            *slot = (minute, 0, 0);
        }
        slot.1 += 1;
        if slot.1 == 1 {
            UnknownKey::First
        } else if presented && slot.1 > self.unknown_limit() {
            slot.2 += 1;
            let ends = (minute + 1) * MINUTE_MS;
            UnknownKey::Throttled { retry_after: u64::try_from((ends - now + 999) / 1000).unwrap_or(1).max(1) }
        } else {
            UnknownKey::Folded
        }
    }

    pub(super) fn unknown_limit(&self) -> u64 {
        match self.unknown_limit {
            0 => UNKNOWN_PER_MINUTE,
            n => n,
        }
    }

    /// Takes the counts of minutes that have ended, for one summary event each (the caller records them).
    pub fn drain_unknown(&self, now: i64) -> Vec<UnknownSummary> {
        let minute = now.div_euclid(MINUTE_MS);
        let mut out = self.unknown_closed.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default();
        let Ok(mut m) = self.unknown.lock() else { return out };
        m.retain(|ip, (w, n, throttled)| {
            if *w >= minute {
                return true;
            }
            if *n > 1 {
                out.push(UnknownSummary {
                    ip: *ip,
                    minute_start_ms: *w * MINUTE_MS,
                    folded: *n - 1,
                    throttled: *throttled,
                });
            }
            false
        });
        out
    }

    /// Whether a canary email is due for this key now: the first use in each 10-minute window, counted by
    /// every instance together (so one email per window, however many instances see the canary). When the
    /// database cannot tell, the email goes: a canary alert is worth a duplicate.
    pub async fn canary_email_due(&self, pool: &AnyPool, key_id: &str, now: i64) -> bool {
        let window = now.div_euclid(CANARY_EMAIL_EVERY_MS) * CANARY_EMAIL_EVERY_MS;
        let counted = async {
            let mut conn = pool.acquire().await?;
            counters::add(&mut conn, "canary_email", key_id, window, window + CANARY_EMAIL_EVERY_MS).await
        };
        match counted.await {
            Ok(n) => n == 1,
            Err(e) => {
                tracing::warn!(error = %e, "canary email throttle unavailable; sending");
                true
            }
        }
    }
}
