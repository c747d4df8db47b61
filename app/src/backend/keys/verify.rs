//! Checking a presented API key on every REST request, mostly without touching the database.
//!
//! - Verified keys are cached by digest for one second: a busy key costs one query per second, not per
//!   request. Every key change on this instance empties the cache at once, so a revoke or roll is effective on
//!   the next request; another instance sees it within the same second (the cache lifetime).
//! - Unknown digests are never cached (so the cache cannot be filled with junk); malformed keys are refused
//!   by their check characters before any lookup.
//! - The hourly limit counts requests per (key, client IP) in fixed clock-hour windows, in memory (per
//!   instance; several instances each allow the limit).
//! - Every refusal names its precise reason for the access history; the caller gets one 401 for all of them.

use super::format;
use super::guard::{Cidr, RefererPattern};
use crate::backend::clock::{HOUR_MS, MINUTE_MS};
use crate::backend::context::TenantCtx;
use crate::backend::ids::{AccountId, MembershipId, TenantId};
use crate::backend::AppState;
use crate::model::{Access, ApiResource, KeyKind, Permission, Scopes};
use sqlx::Row as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

/// How long a verified key's state is trusted without asking the database (milliseconds of the clock).
pub const CACHE_TTL_MS: i64 = 1_000;
/// Most cached keys; past it the cache starts afresh.
const CACHE_MAX: usize = 10_000;
/// Most rate-limit counters kept; past it, counters of past windows are dropped.
const COUNTERS_MAX: usize = 100_000;
/// At most one canary email per key in this time.
const CANARY_EMAIL_EVERY_MS: i64 = 10 * MINUTE_MS;

/// A key's state as verification needs it.
#[derive(Debug)]
pub struct ActiveKey {
    pub id: String,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub kind: KeyKind,
    pub scopes: Scopes,
    pub description: String,
    ips: Vec<Cidr>,
    referers: Vec<RefererPattern>,
    rate_per_hour: Option<i64>,
    expires_at: i64,
    revoked: bool,
    frozen: bool,
    generation: i64,
    digest: String,
    display_prefix: String,
    prev_display_prefix: Option<String>,
    prev_expires_at: Option<i64>,
    /// Last use, roll or creation: what "unused for N days" is measured from.
    last_activity: i64,
    disable_unused_days: Option<i64>,
    owner_membership_id: String,
    owner_account_id: String,
    /// Whether the key's maker is, now, an active owner or admin (master and write keys need one).
    maker_admin: bool,
    /// When the key's tenant closes, if its closure was requested: every key of the tenant is refused meanwhile.
    pub closes_at: Option<i64>,
}

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
    counters: Mutex<HashMap<(String, IpAddr), (i64, i64)>>,
    canary_emails: Mutex<HashMap<String, i64>>,
    /// Accepted uses on this instance not yet necessarily in the database (the access history is batched).
    last_used: Mutex<HashMap<String, i64>>,
    /// Refusals of unrecognised or malformed keys per client address (IPv6 by /64) in the current minute:
    /// (minute, refusals, of which answered 429).
    unknown: Mutex<HashMap<IpAddr, (i64, u64, u64)>>,
    /// Minutes that ended before `drain_unknown` took them.
    unknown_closed: Mutex<Vec<UnknownSummary>>,
    /// The operator's `api_unknown_keys_per_minute` (0: `UNKNOWN_PER_MINUTE`).
    unknown_limit: std::sync::atomic::AtomicU64,
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

/// A request's credentials and origin.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The Authorization header, if any.
    pub authorization: Option<&'a str>,
    pub ip: IpAddr,
    pub referer: Option<&'a str>,
}

/// A verified key: the tenant context the REST handlers act in, and what the key may do.
#[derive(Debug, Clone)]
pub struct ApiPrincipal {
    pub ctx: TenantCtx,
    pub key_id: String,
    pub kind: KeyKind,
    pub scopes: Scopes,
    /// Which secret of the key was presented (to tell old-secret use from new after a roll).
    pub generation: i64,
}

impl ApiPrincipal {
    /// Whether the key reaches `resource` at `level`.
    pub fn allows(&self, resource: ApiResource, level: Access) -> bool {
        self.scopes.access(resource) >= level
    }
}

/// Why a key was refused (recorded; never told to the caller beyond the status).
#[derive(Debug, Clone)]
pub struct Denial {
    pub reason: &'static str,
    /// The key, when the presented text matched one.
    pub key: Option<Arc<ActiveKey>>,
    pub generation: Option<i64>,
    /// Seconds until the rate window ends (`rate_limited` only).
    pub retry_after: Option<u64>,
}

impl Denial {
    fn bare(reason: &'static str) -> Self {
        Self { reason, key: None, generation: None, retry_after: None }
    }
}

impl KeyGuard {
    /// A guard that answers 429 past `limit` unrecognised keys per address and minute (0: the default).
    pub fn with_unknown_limit(limit: u64) -> Self {
        let guard = Self::default();
        guard.unknown_limit.store(limit, std::sync::atomic::Ordering::Relaxed);
        guard
    }

    /// Forgets every cached key (after any change to a key or a tenant's key policy).
    pub fn invalidate_all(&self) {
        // Under the write lock, so that `remember` sees either the old epoch and an empty map after us, or the
        // new epoch.
        if let Ok(mut c) = self.cache.write() {
            self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            c.clear();
        }
    }

    /// The invalidation epoch, read before a database lookup and handed to `remember`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn cached(&self, digest: &str, now: i64) -> Option<Arc<ActiveKey>> {
        let c = self.cache.read().ok()?;
        c.get(digest).filter(|e| (0..CACHE_TTL_MS).contains(&(now - e.loaded_at))).map(|e| e.key.clone())
    }

    /// Caches a key read at invalidation epoch `read_at`; nothing is cached if any invalidation came since.
    fn remember(&self, digest: String, key: Arc<ActiveKey>, now: i64, read_at: u64) {
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

    /// Counts a request; `Err(seconds)` when the window is full.
    fn count(&self, key: &ActiveKey, ip: IpAddr, now: i64) -> Result<(), u64> {
        let Some(limit) = key.rate_per_hour else {
            return Ok(());
        };
        let window = now.div_euclid(HOUR_MS);
        let Ok(mut counters) = self.counters.lock() else {
            return Ok(());
        };
        if counters.len() >= COUNTERS_MAX {
            counters.retain(|_, (w, _)| *w == window);
        }
        // An IPv6 client is one /64, as for sign-ins: rotating addresses inside it gains nothing.
        let ip = crate::backend::throttle::ip_guard::counted_as(ip);
        let slot = counters.entry((key.id.clone(), ip)).or_insert((window, 0));
        if slot.0 != window {
            *slot = (window, 0);
        }
        if slot.1 >= limit {
            let ends = (window + 1) * HOUR_MS;
            return Err(u64::try_from((ends - now + 999) / 1000).unwrap_or(1).max(1));
        }
        slot.1 += 1;
        Ok(())
    }

    fn last_activity(&self, key: &ActiveKey) -> i64 {
        let seen = self.last_used.lock().ok().and_then(|m| m.get(&key.id).copied()).unwrap_or(0);
        key.last_activity.max(seen)
    }

    fn note_use(&self, key_id: &str, now: i64) {
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
        let ip = crate::backend::throttle::ip_guard::counted_as(ip);
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

    fn unknown_limit(&self) -> u64 {
        match self.unknown_limit.load(std::sync::atomic::Ordering::Relaxed) {
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

    /// Whether a canary email is due for this key now (and, if so, notes that it was sent).
    pub fn canary_email_due(&self, key_id: &str, now: i64) -> bool {
        let Ok(mut sent) = self.canary_emails.lock() else {
            return true;
        };
        match sent.get(key_id) {
            Some(at) if now - *at < CANARY_EMAIL_EVERY_MS => false,
            _ => {
                if sent.len() >= CACHE_MAX {
                    sent.clear();
                }
                sent.insert(key_id.to_owned(), now);
                true
            }
        }
    }
}

/// Reads the bearer token of an Authorization header (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies a presented key against every guardrail.
pub async fn verify(state: &AppState, presented: &Presented<'_>) -> Result<ApiPrincipal, Denial> {
    let text = presented.authorization.and_then(bearer).ok_or_else(|| Denial::bare("missing"))?;
    let parsed = format::parse(text).map_err(|_| Denial::bare("malformed"))?;
    let digest = state.keys.api_key_digest(parsed.text);
    let now = state.clock.now_ms();
    let key = match state.key_guard.cached(&digest, now) {
        Some(k) => k,
        None => {
            let read_at = state.key_guard.epoch();
            let loaded = load_by_digest(state, &digest).await.map_err(|err| {
                tracing::warn!(error = %err, "API key lookup failed");
                Denial::bare("unavailable")
            })?;
            let key = Arc::new(loaded.ok_or_else(|| Denial::bare("unknown"))?);
            state.key_guard.remember(digest.clone(), key.clone(), now, read_at);
            key
        }
    };
    let current = crate::backend::crypto::constant_time_eq(key.digest.as_bytes(), digest.as_bytes());
    let generation = if current { key.generation } else { key.generation - 1 };
    let deny = |reason: &'static str| Denial {
        reason,
        key: Some(key.clone()),
        generation: Some(generation),
        retry_after: None,
    };
    if key.kind == KeyKind::Canary {
        return Err(deny("canary"));
    }
    if key.closes_at.is_some() {
        return Err(deny("tenant_closing"));
    }
    if key.revoked {
        return Err(deny("revoked"));
    }
    if key.frozen {
        return Err(deny("frozen"));
    }
    // Master and write keys are an admin's: a maker demoted since is refused here even before the freeze that
    // the demotion wrote reaches this instance's cache.
    if matches!(key.kind, KeyKind::Master | KeyKind::Write) && !key.maker_admin {
        return Err(deny("maker_lacks_access"));
    }
    if key.expires_at <= now || (!current && key.prev_expires_at.is_none_or(|e| e <= now)) {
        return Err(deny("expired"));
    }
    let last_activity = state.key_guard.last_activity(&key);
    if key.disable_unused_days.is_some_and(|d| last_activity + d * crate::backend::clock::DAY_MS <= now) {
        return Err(deny("disabled_unused"));
    }
    if !key.ips.is_empty() && !key.ips.iter().any(|c| c.contains(presented.ip)) {
        return Err(deny("ip_not_allowed"));
    }
    if !key.referers.is_empty() && !presented.referer.is_some_and(|r| key.referers.iter().any(|p| p.matches(r))) {
        return Err(deny("referer_not_allowed"));
    }
    if let Err(secs) = state.key_guard.count(&key, presented.ip, now) {
        return Err(Denial { retry_after: Some(secs), ..deny("rate_limited") });
    }
    state.key_guard.note_use(&key.id, now);
    let mut grants = Vec::new();
    if key.scopes.access(ApiResource::Members) >= Access::Read {
        grants.push(Permission::Team);
    }
    if key.scopes.access(ApiResource::AccessHistory) >= Access::Read {
        grants.push(Permission::AccessHistory);
    }
    if key.scopes.access(ApiResource::Vault) >= Access::Read {
        grants.push(Permission::VaultRead);
    }
    if key.scopes.access(ApiResource::Vault) >= Access::Write {
        grants.push(Permission::VaultWrite);
    }
    if key.kind == KeyKind::Master && key.maker_admin {
        grants.push(Permission::ApiKeys);
        grants.push(Permission::Export);
    }
    let prefix = if current { key.display_prefix.clone() } else { key.prev_display_prefix.clone().unwrap_or_default() };
    let ctx = TenantCtx::for_api_key(
        key.id.clone(),
        &prefix,
        key.tenant_id.clone(),
        key.tenant_name.clone(),
        (AccountId(key.owner_account_id.clone()), MembershipId(key.owner_membership_id.clone())),
        grants,
    );
    Ok(ApiPrincipal { ctx, key_id: key.id.clone(), kind: key.kind, scopes: key.scopes.clone(), generation })
}

impl ActiveKey {
    /// The display prefix of the secret of `generation` (the old one after a roll).
    pub fn prefix_of(&self, generation: i64) -> &str {
        if generation == self.generation {
            &self.display_prefix
        } else {
            self.prev_display_prefix.as_deref().unwrap_or(&self.display_prefix)
        }
    }
}

async fn load_by_digest(state: &AppState, digest: &str) -> Result<Option<ActiveKey>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT k.id, k.tenant_id, t.name, k.kind, k.description, k.scopes, k.allowed_ips, k.allowed_referers, \
         k.rate_per_hour, k.expires_at, k.revoked_at, k.frozen_at, k.generation, k.digest, k.display_prefix, \
         k.prev_display_prefix, k.prev_expires_at, k.created_at, k.rolled_at, k.last_used_at, \
         t.key_disable_unused_days, t.closes_at, k.owner_membership_id, COALESCE(m.account_id, '') AS owner_account_id, \
         m.role AS maker_role, m.grants AS maker_grants, m.deactivated_at AS maker_deactivated_at \
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
         LEFT JOIN memberships m ON m.id = k.owner_membership_id AND m.tenant_id = k.tenant_id \
         WHERE k.digest = $1 OR k.prev_digest = $1",
    )
    .bind(digest)
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(None);
    };
    let kind: String = r.try_get("kind")?;
    let scopes: String = r.try_get("scopes")?;
    let ips: String = r.try_get("allowed_ips")?;
    let referers: String = r.try_get("allowed_referers")?;
    let created: i64 = r.try_get("created_at")?;
    let rolled: Option<i64> = r.try_get("rolled_at")?;
    let used: Option<i64> = r.try_get("last_used_at")?;
    let revoked: Option<i64> = r.try_get("revoked_at")?;
    let frozen: Option<i64> = r.try_get("frozen_at")?;
    // The maker's power now: a key reaches, per resource, the lower of its scopes and what its maker reaches
    // (a deactivated or removed maker reaches nothing).
    let maker_role: Option<String> = r.try_get("maker_role")?;
    let maker_grants: Option<String> = r.try_get("maker_grants")?;
    let maker_deactivated: Option<i64> = r.try_get("maker_deactivated_at")?;
    let maker = maker_role
        .filter(|_| maker_deactivated.is_none())
        .and_then(|role| crate::model::Role::parse(&role))
        .map(|role| (role, Permission::parse_list(maker_grants.as_deref().unwrap_or(""))));
    let maker_scopes = maker.as_ref().map(|(role, grants)| Scopes::of_maker(*role, grants)).unwrap_or_default();
    let maker_admin = maker.as_ref().is_some_and(|(role, _)| role.is_admin());
    // A row that does not parse is refused as revoked rather than trusted.
    let (kind, scopes, ips, referers, revoked) = match (
        KeyKind::parse(&kind),
        Scopes::from_text(&scopes),
        super::guard::parse_list::<Cidr>(&ips),
        super::guard::parse_list::<RefererPattern>(&referers),
    ) {
        (Some(k), Some(s), Ok(i), Ok(rf)) => (k, s, i, rf, revoked.is_some()),
        _ => {
            tracing::error!("api_keys row with unreadable guardrails; refusing the key");
            (KeyKind::Canary, Scopes::default(), Vec::new(), Vec::new(), true)
        }
    };
    Ok(Some(ActiveKey {
        id: r.try_get("id")?,
        tenant_id: TenantId(r.try_get("tenant_id")?),
        tenant_name: r.try_get("name")?,
        kind,
        scopes: Scopes::of_kind(kind, &scopes).intersect(&maker_scopes),
        description: r.try_get("description")?,
        ips,
        referers,
        rate_per_hour: r.try_get("rate_per_hour")?,
        expires_at: r.try_get("expires_at")?,
        revoked,
        frozen: frozen.is_some(),
        generation: r.try_get("generation")?,
        digest: r.try_get("digest")?,
        display_prefix: r.try_get("display_prefix")?,
        prev_display_prefix: r.try_get("prev_display_prefix")?,
        prev_expires_at: r.try_get("prev_expires_at")?,
        last_activity: used.unwrap_or(0).max(rolled.unwrap_or(created)),
        disable_unused_days: r.try_get("key_disable_unused_days")?,
        owner_membership_id: r.try_get("owner_membership_id")?,
        owner_account_id: r.try_get("owner_account_id")?,
        maker_admin,
        closes_at: r.try_get("closes_at")?,
    }))
}

/// Alerts the tenant's security contact and its active owners and admins that a canary key was used (through
/// the alert digest, `alerts`).
pub async fn alert_canary(state: &AppState, key: &ActiveKey, meta: &crate::backend::request::RequestMeta) {
    use crate::backend::alerts::{self, Alert};
    let queued = async {
        let recipients = canary_recipients(state, &key.tenant_id).await?;
        let alert = Alert::canary_key(&key.display_prefix, &key.description, meta);
        let mut tx = crate::backend::db::begin_write(&state.pool).await?;
        alerts::enqueue(&mut tx, state.clock.now_ms(), &key.tenant_id, &key.tenant_name, &recipients, &alert).await?;
        tx.commit().await?;
        alerts::deliver_due(state).await
    };
    if let Err(err) = queued.await {
        tracing::warn!(error = %err, "canary alert not queued or not delivered");
    }
}

async fn canary_recipients(state: &AppState, tenant: &TenantId) -> Result<Vec<String>, sqlx::Error> {
    let mut out: Vec<String> = Vec::new();
    let contact: String = sqlx::query("SELECT security_contact FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_one(&state.pool)
        .await?
        .try_get("security_contact")?;
    if !contact.is_empty() {
        out.push(contact);
    }
    let rows = sqlx::query(
        "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.tenant_id = $1 AND m.deactivated_at IS NULL AND m.role IN ('owner', 'admin')",
    )
    .bind(tenant.as_str())
    .fetch_all(&state.pool)
    .await?;
    for r in rows {
        let email: String = r.try_get("email")?;
        if !out.iter().any(|e| e.eq_ignore_ascii_case(&email)) {
            out.push(email);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key() -> Arc<ActiveKey> {
        Arc::new(ActiveKey {
            id: "k".into(),
            tenant_id: TenantId("t".into()),
            tenant_name: "T".into(),
            kind: KeyKind::Read,
            scopes: Scopes::all(Access::Read),
            description: String::new(),
            ips: Vec::new(),
            referers: Vec::new(),
            rate_per_hour: None,
            expires_at: i64::MAX,
            revoked: false,
            frozen: false,
            generation: 1,
            digest: "d".into(),
            display_prefix: "p".into(),
            prev_display_prefix: None,
            prev_expires_at: None,
            last_activity: 0,
            disable_unused_days: None,
            owner_membership_id: "m".into(),
            owner_account_id: "a".into(),
            maker_admin: true,
            closes_at: None,
        })
    }

    /// A verification that read the row, then paused while a revoke committed and emptied the cache, must not
    /// put the stale row back (finding 8 of the attack review).
    #[test]
    fn a_lookup_paused_across_an_invalidation_caches_nothing() {
        let guard = KeyGuard::default();
        let read_at = guard.epoch();
        guard.invalidate_all();
        guard.remember("d".into(), key(), 0, read_at);
        assert!(guard.cached("d", 0).is_none(), "the stale read came back into the cache");
        let read_at = guard.epoch();
        guard.remember("d".into(), key(), 0, read_at);
        assert!(guard.cached("d", 0).is_some(), "an undisturbed lookup is cached");
    }

    /// Rotating addresses inside one IPv6 /64 does not reset a key's hourly limit (finding 10).
    #[test]
    fn the_hourly_limit_counts_an_ipv6_client_by_its_64() {
        let guard = KeyGuard::default();
        let mut k = Arc::try_unwrap(key()).ok().unwrap();
        k.rate_per_hour = Some(2);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(guard.count(&k, ip("2001:db8:0:1::1"), 0).is_ok());
        assert!(guard.count(&k, ip("2001:db8:0:1::2"), 0).is_ok());
        assert!(guard.count(&k, ip("2001:db8:0:1:dead:beef:0:3"), 0).is_err(), "a new address in the /64 is refused");
        assert!(guard.count(&k, ip("2001:db8:0:2::1"), 0).is_ok(), "another /64 is another client");
    }
}
