//! A tenant's network rules: an IP block list (address or CIDR, IPv4 or IPv6, a reason, an optional end) and a
//! console allow list.
//!
//! Policy:
//! - The block list applies to everything done in the tenant's name: every console request carrying a session
//!   of the tenant (the server's session gate) and every REST request made with one of its keys (after the key
//!   is verified, so the refusal is recorded against the key with the block's reason).
//! - The console allow list, when not empty, applies to the console only. API keys carry their own IP allow
//!   lists (and the overview counts keys without one): servers calling the API rarely sit in the offices the
//!   console is used from, and one list for both would push admins to open the console to every cloud range.
//! - Nobody locks themselves out by mistake: an allow list that does not contain the admin's current address,
//!   or a block that covers it, is refused and nothing is saved. When the admins' addresses change under them
//!   anyway, the operator empties the allow list with `rampart tenant open-console --tenant T` (recorded).
//! - Rules are cached per tenant for one second of the injectable clock, like verified API keys; every change
//!   empties this instance's cache at once, and another instance sees it within the second. An expired block
//!   stops biting at its end by the clock, cache or not, and stays listed until removed.
//! - Every change is an audit event in the same transaction; refusals are recorded at most once a minute per
//!   (tenant, address), so a blocked client cannot flood the access history.

mod manage;
pub use manage::{add_block, get_rules, operator_open_console, remove_block, set_console_allow_list};

use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::keys::guard::{self, Cidr};
use crate::backend::platform::clock::MINUTE_MS;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::Row as _;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

/// How long a tenant's rules are trusted without asking the database (milliseconds of the clock).
pub const CACHE_TTL_MS: i64 = 1_000;
/// Most tenants cached; past it the cache starts afresh.
const CACHE_MAX: usize = 10_000;
/// Most remembered refusals (for the once-a-minute record); past it the memory starts afresh.
const REFUSALS_MAX: usize = 100_000;

/// One enforced entry of the block list.
#[derive(Debug, Clone)]
struct Block {
    cidr: Cidr,
    reason: String,
    expires_at: Option<i64>,
}

/// A tenant's rules as enforcement needs them.
#[derive(Debug, Default)]
struct TenantRules {
    blocks: Vec<Block>,
    console_allow: Vec<Cidr>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The address is on the block list; the admin's reason.
    Blocked { reason: String },
    /// The console allow list does not contain the address.
    NotAllowed,
}

impl Refusal {
    /// What the refused person is told: plain, and about their own address only.
    pub fn message(&self, ip: IpAddr) -> String {
        match self {
            Self::Blocked { .. } => format!(
                "Your organisation has blocked access from your network address ({ip}). \
                 If you think this is a mistake, ask one of its administrators."
            ),
            Self::NotAllowed => format!(
                "Your organisation allows its console only from its own networks, and your address ({ip}) is \
                 not one of them. Connect from an allowed network, or ask one of its administrators."
            ),
        }
    }

    /// The rule that refused, as the metrics name it.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Blocked { .. } => "block_list",
            Self::NotAllowed => "allow_list",
        }
    }

    /// The reason recorded in the access history.
    pub fn detail(&self, ip: IpAddr) -> String {
        match self {
            Self::Blocked { reason } => format!("{ip} is blocked: {reason}"),
            Self::NotAllowed => format!("{ip} is not on the console allow list"),
        }
    }
}

/// The rules cache and the refusal-record throttle of this instance.
#[derive(Default)]
pub struct IpRuleCache {
    tenants: RwLock<HashMap<String, (i64, Arc<TenantRules>)>>,
    refusals: Mutex<HashMap<(String, IpAddr), i64>>,
}

impl std::fmt::Debug for IpRuleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpRuleCache").finish_non_exhaustive()
    }
}

impl IpRuleCache {
    /// Forgets every cached tenant (after any change to a tenant's rules on this instance).
    pub fn invalidate_all(&self) {
        if let Ok(mut t) = self.tenants.write() {
            t.clear();
        }
    }

    fn cached(&self, tenant: &TenantId, now: i64) -> Option<Arc<TenantRules>> {
        let t = self.tenants.read().ok()?;
        t.get(tenant.as_str()).filter(|(at, _)| (0..CACHE_TTL_MS).contains(&(now - at))).map(|(_, r)| r.clone())
    }

    fn remember(&self, tenant: &TenantId, rules: Arc<TenantRules>, now: i64) {
        if let Ok(mut t) = self.tenants.write() {
            if t.len() >= CACHE_MAX {
                t.clear();
            }
            t.insert(tenant.as_str().to_owned(), (now, rules));
        }
    }

    /// Whether a refusal of `ip` in `tenant` should be recorded now (at most once a minute).
    fn refusal_due(&self, tenant: &TenantId, ip: IpAddr, now: i64) -> bool {
        let Ok(mut r) = self.refusals.lock() else { return false };
        if r.len() >= REFUSALS_MAX {
            r.clear();
        }
        let key = (tenant.as_str().to_owned(), ip);
        match r.get(&key) {
            Some(at) if now - at < MINUTE_MS && now >= *at => false,
            _ => {
                r.insert(key, now);
                true
            }
        }
    }
}

async fn rules(state: &AppState, tenant: &TenantId, now: i64) -> Result<Arc<TenantRules>, AppError> {
    if let Some(r) = state.ip_rules.cached(tenant, now) {
        return Ok(r);
    }
    let allow: Option<String> = sqlx::query("SELECT console_allowed_ips FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&state.pool)
        .await?
        .map(|r| r.try_get("console_allowed_ips"))
        .transpose()?;
    let rows = sqlx::query(
        "SELECT cidr, reason, expires_at FROM ip_blocks WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(tenant.as_str())
    .bind(now)
    .fetch_all(&state.pool)
    .await?;
    let mut blocks = Vec::with_capacity(rows.len());
    for r in rows {
        let cidr: String = r.try_get("cidr")?;
        // A row that does not parse blocks nothing, but says so: it can only come from outside the console.
        match cidr.parse::<Cidr>() {
            Ok(cidr) => blocks.push(Block { cidr, reason: r.try_get("reason")?, expires_at: r.try_get("expires_at")? }),
            Err(_) => tracing::error!("ip_blocks row with an unreadable block; ignored"),
        }
    }
    let console_allow = guard::parse_list::<Cidr>(&allow.unwrap_or_default()).unwrap_or_else(|_| {
        // Unreadable: fail closed to "nothing allowed" would lock everyone out; the list was validated on save,
        // so this is tampering or a bug, and is logged.
        tracing::error!("tenants.console_allowed_ips unreadable; not enforced");
        Vec::new()
    });
    let rules = Arc::new(TenantRules { blocks, console_allow });
    state.ip_rules.remember(tenant, rules.clone(), now);
    Ok(rules)
}

fn blocked(rules: &TenantRules, ip: IpAddr, now: i64) -> Option<Refusal> {
    rules
        .blocks
        .iter()
        .find(|b| b.cidr.contains(ip) && b.expires_at.is_none_or(|e| e > now))
        .map(|b| Refusal::Blocked { reason: b.reason.clone() })
}

/// Whether the tenant's rules refuse a console request from `ip` (block list, then allow list).
pub async fn check_console(state: &AppState, tenant: &TenantId, ip: IpAddr) -> Result<Option<Refusal>, AppError> {
    let refusal = console_refusal(state, tenant, ip).await?;
    if let Some(r) = &refusal {
        state.metrics.ip_rule_refusal("console", r.rule());
    }
    Ok(refusal)
}

async fn console_refusal(state: &AppState, tenant: &TenantId, ip: IpAddr) -> Result<Option<Refusal>, AppError> {
    let now = state.clock.now_ms();
    let rules = rules(state, tenant, now).await?;
    if let Some(r) = blocked(&rules, ip, now) {
        return Ok(Some(r));
    }
    if !rules.console_allow.is_empty() && !rules.console_allow.iter().any(|c| c.contains(ip)) {
        return Ok(Some(Refusal::NotAllowed));
    }
    Ok(None)
}

/// Whether the tenant's block list refuses a REST request from `ip` (the console allow list does not apply).
pub async fn check_api(state: &AppState, tenant: &TenantId, ip: IpAddr) -> Result<Option<Refusal>, AppError> {
    let now = state.clock.now_ms();
    let refusal = blocked(&*rules(state, tenant, now).await?, ip, now);
    if let Some(r) = &refusal {
        state.metrics.ip_rule_refusal("api", r.rule());
    }
    Ok(refusal)
}

/// Holds a correct password against the tenant's rules before any session exists: `Ok(true)` when the rules
/// refuse it, after recording in the tenant's history that someone there knew the password. The caller answers
/// with its uniform sign-in failure — telling "right password, wrong network" apart would hand anyone on a
/// blocked or outside network a password oracle.
pub async fn refuses_sign_in(
    state: &AppState,
    ctx: &crate::backend::access::TenantCtx,
    meta: &RequestMeta,
    ip: IpAddr,
) -> Result<bool, AppError> {
    let Some(refusal) = console_refusal(state, ctx.tenant_id(), ip).await? else {
        return Ok(false);
    };
    state.metrics.ip_rule_refusal("sign_in", refusal.rule());
    let now = state.clock.now_ms();
    let detail = format!("sign-in refused after a correct password: {}", refusal.detail(ip));
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "ip_rules.refused", Outcome::Failure, &detail))
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records a refused console request in the tenant's access history (at most once a minute per address).
pub async fn record_console_refusal(
    state: &AppState,
    ctx: &crate::backend::access::TenantCtx,
    meta: &RequestMeta,
    ip: IpAddr,
    refusal: &Refusal,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    if !state.ip_rules.refusal_due(ctx.tenant_id(), ip, now) {
        return Ok(());
    }
    let detail = format!("console request refused: {}", refusal.detail(ip));
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "ip_rules.refused", Outcome::Failure, &detail))
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome = Result<(), String>;

    fn ip(s: &str) -> Result<IpAddr, String> {
        s.parse().map_err(|e| format!("{s}: {e}"))
    }

    #[test]
    fn expired_blocks_stop_biting_at_their_end() -> Outcome {
        let rules = TenantRules {
            blocks: vec![Block { cidr: "10.0.0.0/8".parse()?, reason: "scanner".into(), expires_at: Some(1_000) }],
            console_allow: Vec::new(),
        };
        assert!(blocked(&rules, ip("10.1.2.3")?, 999).is_some());
        assert!(blocked(&rules, ip("10.1.2.3")?, 1_000).is_none());
        assert!(blocked(&rules, ip("11.1.2.3")?, 0).is_none());
        Ok(())
    }

    #[test]
    fn refusals_are_recorded_once_a_minute() -> Outcome {
        let cache = IpRuleCache::default();
        let t = TenantId("t".into());
        let a = ip("192.0.2.1")?;
        assert!(cache.refusal_due(&t, a, 0));
        assert!(!cache.refusal_due(&t, a, MINUTE_MS - 1));
        assert!(cache.refusal_due(&t, ip("192.0.2.2")?, 1));
        assert!(cache.refusal_due(&t, a, MINUTE_MS));
        Ok(())
    }
}
