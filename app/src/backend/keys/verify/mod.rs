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
use crate::backend::access::TenantCtx;
use crate::backend::platform::clock::{HOUR_MS, MINUTE_MS};
use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::backend::AppState;
use crate::model::{Access, ApiResource, KeyKind, Permission, Scopes};
use sqlx::Row as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

mod cache;
pub mod failures;
pub use cache::{KeyGuard, UnknownKey, UnknownSummary, UNKNOWN_PER_MINUTE};

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
    /// Consecutive failed authentications against the key when it was read (`failures`).
    auth_failures: i64,
    /// Whether a success already asked for that count to be reset (`failures::succeeded`).
    reset_sent: std::sync::atomic::AtomicBool,
    /// Works only over a connection presenting an active machine certificate of its tenant.
    machines_only: bool,
}

/// A request's credentials and origin.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The Authorization header, if any.
    pub authorization: Option<&'a str>,
    pub ip: IpAddr,
    pub referer: Option<&'a str>,
    /// The SHA-256 of the client certificate the connection presented, if any (`machines`).
    pub certificate: Option<&'a str>,
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
    /// The enrolled machine whose certificate the connection presented, if any.
    pub machine: Option<crate::backend::machines::gate::Judged>,
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

/// Reads the bearer token of an Authorization header (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies a presented key against every guardrail, counting the outcome (`accepted` or the reason) and the
/// hourly limit's decision in the metrics.
pub async fn verify(state: &AppState, presented: &Presented<'_>) -> Result<ApiPrincipal, Denial> {
    use crate::backend::platform::metrics::{Decision, Limiter};
    let verdict = check(state, presented).await;
    let outcome = verdict.as_ref().map_or_else(|d| d.reason, |_| "accepted");
    state.metrics.api_key_verification(outcome);
    match outcome {
        "accepted" => state.metrics.throttle(Limiter::ApiKeyRate, Decision::Allowed),
        "rate_limited" => state.metrics.throttle(Limiter::ApiKeyRate, Decision::Throttled),
        _ => {}
    }
    verdict
}

/// The tenant of the presented key, when it matched one (accepted or not).
pub fn tenant_of(verdict: &Result<ApiPrincipal, Denial>) -> Option<&TenantId> {
    verdict.as_ref().map_or_else(|d| d.key.as_ref().map(|k| &k.tenant_id), |p| Some(p.ctx.tenant_id()))
}

/// Counts a missing, malformed or unrecognised key from `ip` (`KeyGuard::note_unknown`), with the per-address
/// limit's decision in the metrics.
pub fn note_unknown(state: &AppState, ip: IpAddr, now: i64, presented: bool) -> UnknownKey {
    use crate::backend::platform::metrics::{Decision, Limiter};
    let verdict = state.key_guard.note_unknown(ip, now, presented);
    let throttled = matches!(verdict, UnknownKey::Throttled { .. });
    state.metrics.throttle(Limiter::ApiUnknownKey, if throttled { Decision::Throttled } else { Decision::Allowed });
    verdict
}

async fn check(state: &AppState, presented: &Presented<'_>) -> Result<ApiPrincipal, Denial> {
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
            let Some(loaded) = loaded else {
                // Not a secret of any key: with a public id of a key, a failed attempt against that key.
                return Err(match parsed.id {
                    Some(id) => failures::wrong_secret(state, id, presented, now).await,
                    None => Denial::bare("unknown"),
                });
            };
            let key = Arc::new(loaded);
            state.key_guard.remember(digest.clone(), key.clone(), now, read_at);
            key
        }
    };
    let current = crate::backend::platform::crypto::constant_time_eq(key.digest.as_bytes(), digest.as_bytes());
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
    if key.disable_unused_days.is_some_and(|d| last_activity + d * crate::backend::platform::clock::DAY_MS <= now) {
        return Err(deny("disabled_unused"));
    }
    if !key.ips.is_empty() && !key.ips.iter().any(|c| c.contains(presented.ip)) {
        return Err(deny("ip_not_allowed"));
    }
    if !key.referers.is_empty() && !presented.referer.is_some_and(|r| key.referers.iter().any(|p| p.matches(r))) {
        return Err(deny("referer_not_allowed"));
    }
    let tenant = key.tenant_id.as_str();
    let machine = crate::backend::machines::gate::judge(
        state,
        tenant,
        key.machines_only,
        presented.certificate,
        presented.ip,
        now,
    )
    .await
    .map_err(deny)?;
    match state.key_guard.count(&state.pool, &key, presented.ip, now).await {
        Ok(Ok(())) => {}
        Ok(Err(secs)) => return Err(Denial { retry_after: Some(secs), ..deny("rate_limited") }),
        Err(err) => {
            tracing::warn!(error = %err, "API key rate counter unavailable");
            return Err(Denial::bare("unavailable"));
        }
    }
    state.key_guard.note_use(&key.id, now);
    failures::succeeded(state, &key);
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
        !current,
    );
    Ok(ApiPrincipal { ctx, key_id: key.id.clone(), kind: key.kind, scopes: key.scopes.clone(), generation, machine })
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
    load_where(state, "k.digest = $1 OR k.prev_digest = $1", digest).await
}

/// The key matching `clause` (on `k`, the api_keys row, with `$1` bound to `value`).
pub(super) async fn load_where(state: &AppState, clause: &str, value: &str) -> Result<Option<ActiveKey>, sqlx::Error> {
    let Some(r) = sqlx::query(&format!(
        "SELECT k.id, k.tenant_id, t.name, k.kind, k.description, k.scopes, k.allowed_ips, k.allowed_referers, \
         k.rate_per_hour, k.expires_at, k.revoked_at, k.frozen_at, k.generation, k.digest, k.display_prefix, \
         k.prev_display_prefix, k.prev_expires_at, k.created_at, k.rolled_at, k.last_used_at, \
         t.key_disable_unused_days, t.closes_at, k.owner_membership_id, COALESCE(m.account_id, '') AS owner_account_id, \
         m.role AS maker_role, m.grants AS maker_grants, m.deactivated_at AS maker_deactivated_at, k.auth_failures, k.machines_only \
         FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
         LEFT JOIN memberships m ON m.id = k.owner_membership_id AND m.tenant_id = k.tenant_id \
         WHERE {clause}"
    ))
    .bind(value)
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
        auth_failures: r.try_get("auth_failures")?,
        reset_sent: std::sync::atomic::AtomicBool::new(false),
        machines_only: r.try_get::<i64, _>("machines_only")? == 1,
    }))
}

/// Alerts the tenant's security contact and its active owners and admins that a canary key was used (through
/// the alert digest, `alerts`).
pub async fn alert_canary(state: &AppState, key: &ActiveKey, meta: &crate::backend::platform::request::RequestMeta) {
    use crate::backend::alerts::{self, Alert};
    let queued = async {
        let recipients = canary_recipients(state, &key.tenant_id).await?;
        let alert = Alert::canary_key(&key.display_prefix, &key.description, meta);
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
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
mod tests;
