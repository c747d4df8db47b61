//! API keys: creation, guardrails, usage-aware rotation, revocation, and the tenant's key policy.
//!
//! Policy:
//! - A secret is shown once; the database holds an HMAC-SHA-256 digest under a server pepper and a short
//!   display prefix (`format`). Presented keys are checked by `verify`, mostly without a database round trip.
//! - Nothing grants more than its maker has: a member hands a key only the features the member has (master,
//!   write and canary keys are for admins); a master key can create write, read and restricted keys whose
//!   guardrails are at least as tight as its own, never a master or canary key (those need a person's step-up).
//! - Guardrails combine freely: expiry (at most the tenant's maximum age, default one year), IP/CIDR allow
//!   list, referer patterns, a per-client-IP hourly limit.
//! - A roll keeps the old secret working until the end of the grace the admin chose (at most 30 days), and
//!   the key page shows where the old secret is still used from. A revoke is immediate.
//! - Every change is an audit event, in the same transaction; every change empties the verification cache.

pub mod format;
pub mod guard;
mod list;
mod policy;
mod rotate;
mod row;
pub mod verify;

pub use policy::{policy, set_policy};

#[cfg(test)]
mod props;

pub use list::{count_due, get_key, list_keys};
pub use rotate::{end_grace, freeze_beyond_maker, revoke_key, revoke_member_keys, roll_key};
use row::{load_row, KeyRow};

use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::clock::DAY_MS;
use crate::backend::platform::ids::new_event_id;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{
    Access, ApiResource, AppError, FreshKeyView, KeyDetailView, KeyKind, KeyPolicyView, KeyStatus, KeyUsageView,
    KeyView, KeysView, Scopes,
};
use guard::{Cidr, RefererPattern};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row as _};

/// Longest grace for an old secret after a roll.
pub const MAX_GRACE_MS: i64 = 30 * DAY_MS;
/// Keys expiring within this window are listed as due.
const DUE_WITHIN_MS: i64 = 30 * DAY_MS;
/// A secret this old is due for rotation ("regenerate at least once a year": warn from 11 months).
const DUE_AGE_MS: i64 = 335 * DAY_MS;
/// Bounds of the tenant's maximum key age.
const MAX_AGE_DAYS: std::ops::RangeInclusive<i64> = 1..=730;
const MAX_DESCRIPTION: usize = 200;
const MAX_RATE_PER_HOUR: i64 = 10_000_000;

const KEY_COLUMNS: &str = "k.id, k.kind, k.label, k.description, k.owner_membership_id, k.scopes, k.allowed_ips, \
     k.allowed_referers, k.rate_per_hour, k.created_at, k.expires_at, k.revoked_at, k.generation, k.display_prefix, \
     k.prev_display_prefix, k.prev_expires_at, k.rolled_at, k.last_used_at, k.last_used_ip, k.last_used_ua, \
     k.frozen_at, k.machines_only, COALESCE(a.email, '') AS owner_email";

pub use crate::model::KeyInput;

/// Guardrails that passed validation.
#[derive(Debug, Clone)]
struct Checked {
    description: String,
    expires_at: i64,
    ips: Vec<Cidr>,
    referers: Vec<RefererPattern>,
    rate: Option<i64>,
    scopes: Scopes,
    machines_only: bool,
}

impl KeyRow {
    /// The stored guardrails, in the shape validation produces.
    fn guardrails(&self) -> Checked {
        Checked {
            description: self.description.clone(),
            expires_at: self.expires_at,
            ips: guard::parse_list(&self.allowed_ips).unwrap_or_default(),
            referers: guard::parse_list(&self.allowed_referers).unwrap_or_default(),
            rate: self.rate_per_hour,
            scopes: self.scopes.clone(),
            machines_only: self.machines_only,
        }
    }
}

fn check_input(input: &KeyInput, kind: KeyKind, now: i64, max_age_days: i64) -> Result<Checked, AppError> {
    let description = input.description.trim().to_owned();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::validation(
            "description",
            format!("Say what the key is for, in 1 to {MAX_DESCRIPTION} characters."),
        ));
    }
    if description.chars().any(char::is_control) {
        return Err(AppError::validation("description", "The description must be one line of text."));
    }
    let days = input.expires_in_days.unwrap_or(max_age_days);
    if !(1..=max_age_days).contains(&days) {
        return Err(AppError::validation(
            "expires_in_days",
            format!("Keys expire after 1 to {max_age_days} days (the organisation's maximum)."),
        ));
    }
    let ips = guard::parse_list::<Cidr>(&input.allowed_ips).map_err(|m| AppError::validation("allowed_ips", m))?;
    // A block of every address restricts nothing, yet a key carrying one would count as restricted (the
    // overview's open keys, the keys page's filter, a child key "within" it): an open key says so by its empty list.
    if let Some(all) = ips.iter().find(|c| c.is_everything()) {
        return Err(AppError::validation(
            "allowed_ips",
            format!("“{all}” allows every address: leave the list empty for a key usable from anywhere."),
        ));
    }
    let referers = guard::parse_list::<RefererPattern>(&input.allowed_referers)
        .map_err(|m| AppError::validation("allowed_referers", m))?;
    if let Some(rate) = input.rate_per_hour {
        if !(1..=MAX_RATE_PER_HOUR).contains(&rate) {
            return Err(AppError::validation(
                "rate_per_hour",
                format!("The hourly limit is between 1 and {MAX_RATE_PER_HOUR} requests per client IP."),
            ));
        }
    }
    let scopes = Scopes::of_kind(kind, &input.scopes);
    // A Referer header is whatever the caller sends: the pattern only keeps honest browsers from embedding a
    // key elsewhere. That is a guardrail for read keys in web pages, never for keys that can change data.
    if !referers.is_empty() && ApiResource::ALL.into_iter().any(|r| scopes.access(r) == Access::Write) {
        return Err(AppError::validation(
            "allowed_referers",
            "Referer restrictions are for read-only keys embedded in web pages; use an IP allow list instead.",
        ));
    }
    if kind == KeyKind::Restricted && scopes.to_text().is_empty() {
        return Err(AppError::validation("scopes", "A restricted key needs read or write access to something."));
    }
    Ok(Checked {
        description,
        expires_at: now + days * DAY_MS,
        ips,
        referers,
        rate: input.rate_per_hour,
        scopes,
        machines_only: input.machines_only,
    })
}

/// Behind a TLS-terminating proxy no machine certificate reaches the server: a "machines only" key would be
/// unusable, or worse, trusted on the proxy's word; it is refused.
fn refuse_machines_only_behind_proxy(state: &AppState, checked: &Checked) -> Result<(), AppError> {
    if checked.machines_only && !state.machine_certs {
        return Err(AppError::validation(
            "machines_only",
            "This server runs behind a TLS-terminating proxy, where machine certificates never arrive.",
        ));
    }
    Ok(())
}

/// Which kinds `ctx` may create from the console: master, write and canary keys are for admins.
fn creatable_kinds(ctx: &TenantCtx) -> Vec<KeyKind> {
    if ctx.is_admin() {
        KeyKind::ALL.to_vec()
    } else {
        vec![KeyKind::Read, KeyKind::Restricted]
    }
}

/// Which kinds `ctx` may create from the console, and which resources it may hand out (at up to its own
/// level: `Scopes::of_maker`).
fn creatable(ctx: &TenantCtx) -> (Vec<KeyKind>, Vec<ApiResource>) {
    let mine = Scopes::of_maker(ctx.role(), ctx.grants());
    let resources = ApiResource::ALL.into_iter().filter(|r| mine.access(*r) > Access::None).collect();
    (creatable_kinds(ctx), resources)
}

/// Whether a maker with `role` may hold a key of `kind` with `scopes` (the rule for making, changing and
/// rolling a key, and the one a demotion is measured against).
pub(crate) fn maker_may_hold(
    role: crate::model::Role,
    grants: &[crate::model::Permission],
    kind: KeyKind,
    scopes: &Scopes,
) -> bool {
    let kind_ok = role.is_admin() || matches!(kind, KeyKind::Read | KeyKind::Restricted);
    kind_ok && Scopes::of_kind(kind, scopes).within(&Scopes::of_maker(role, grants))
}

/// The role and grants of the membership that made a key, now; a deactivated or missing maker holds nothing.
pub(crate) async fn maker_power(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    membership: &str,
) -> Result<(crate::model::Role, Vec<crate::model::Permission>), AppError> {
    let row =
        sqlx::query("SELECT role, grants FROM memberships WHERE id = $1 AND tenant_id = $2 AND deactivated_at IS NULL")
            .bind(membership)
            .bind(ctx.tenant_id().as_str())
            .fetch_optional(conn)
            .await?;
    let Some(row) = row else { return Ok((crate::model::Role::Auditor, Vec::new())) };
    let role: String = row.try_get("role")?;
    let grants: String = row.try_get("grants")?;
    Ok((
        crate::model::Role::parse(&role).unwrap_or(crate::model::Role::Auditor),
        crate::model::Permission::parse_list(&grants),
    ))
}

/// Refuses what `ctx` may not create or hold: the "never more than its maker" rule, per resource (vault read
/// ⇐ *Vault (read)*, vault write ⇐ *Vault (write)*, members ⇐ *Team*), for people and master keys alike. A
/// child of a master key that asks for no expiry gets its parent's remaining life when that is shorter than
/// the default.
async fn check_power(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    kind: KeyKind,
    checked: &mut Checked,
    default_expiry: bool,
    stepped_up: Option<&SteppedUp>,
) -> Result<(), AppError> {
    match ctx.api_key() {
        None => {
            if !creatable_kinds(ctx).contains(&kind) {
                return Err(AppError::Forbidden);
            }
            if !checked.scopes.within(&Scopes::of_maker(ctx.role(), ctx.grants())) {
                return Err(AppError::validation(
                    "scopes",
                    "A key can only reach what you can reach yourself in the console.",
                ));
            }
            if kind == KeyKind::Master && stepped_up.is_none() {
                return Err(AppError::StepUpRequired);
            }
            Ok(())
        }
        Some(parent_id) => {
            // A secret being replaced (a roll's grace, often because it leaked) keeps working for what it did,
            // but makes and rolls no keys: what it made would outlive it.
            if matches!(kind, KeyKind::Master | KeyKind::Canary) || ctx.previous_secret() {
                return Err(AppError::Forbidden);
            }
            let parent = load_row(conn, ctx, parent_id).await?;
            if parent.kind != KeyKind::Master || parent.revoked_at.is_some() || parent.frozen_at.is_some() {
                return Err(AppError::Forbidden);
            }
            let (role, grants) = maker_power(conn, ctx, &parent.owner_membership_id).await?;
            if !role.is_admin() || !checked.scopes.within(&Scopes::of_maker(role, &grants)) {
                return Err(AppError::Forbidden);
            }
            // Expiry is asked for in whole days: the default, or a request that ends within a day after the
            // parent's expiry (N days from a parent made minutes ago with N days), ends with the parent.
            if default_expiry || checked.expires_at - parent.expires_at < DAY_MS {
                checked.expires_at = checked.expires_at.min(parent.expires_at);
            }
            within_parent(&parent, checked)
        }
    }
}

/// A key made (or rolled) by a master key keeps every guardrail of that key.
fn within_parent(parent: &KeyRow, child: &Checked) -> Result<(), AppError> {
    if child.expires_at > parent.expires_at {
        return Err(AppError::validation("expires_in_days", "A key cannot outlive the key that creates it."));
    }
    let parent_ips = guard::parse_list::<Cidr>(&parent.allowed_ips).unwrap_or_default();
    if !parent_ips.is_empty()
        && (child.ips.is_empty() || !child.ips.iter().all(|c| parent_ips.iter().any(|p| p.covers(c))))
    {
        return Err(AppError::validation("allowed_ips", "The IP allow list must lie within the creating key's."));
    }
    let parent_refs = guard::parse_list::<RefererPattern>(&parent.allowed_referers).unwrap_or_default();
    if !parent_refs.is_empty() && (child.referers.is_empty() || !child.referers.iter().all(|r| parent_refs.contains(r)))
    {
        return Err(AppError::validation("allowed_referers", "The referers must be among the creating key's."));
    }
    if parent.machines_only && !child.machines_only {
        return Err(AppError::validation("machines_only", "A key made by a machines-only key is machines-only too."));
    }
    if let Some(limit) = parent.rate_per_hour {
        if child.rate.is_none_or(|r| r > limit) {
            return Err(AppError::validation("rate_per_hour", "The hourly limit cannot exceed the creating key's."));
        }
    }
    Ok(())
}

use crate::backend::platform::ids::random_base62 as base62;

/// A new key's public id (`format::ID_LEN` base-62 characters, about 71 bits: unique in practice, and the
/// database's unique index says so).
fn new_public_id() -> String {
    base62(format::ID_LEN)
}

fn new_secret(label: KeyKind, public_id: &str) -> String {
    format::compose(label.as_str(), Some(public_id), &base62(format::RANDOM_LEN))
}

fn actor_ref(ctx: &TenantCtx) -> String {
    match ctx.api_key() {
        Some(id) => format!("key:{id}"),
        None => ctx.membership_id().as_str().to_owned(),
    }
}

/// Whether `create_key` would refuse this input or this maker, checked before a master key is put to a second
/// admin: a request that can only fail files no approval and emails nobody (the answer is the refusal, now).
pub async fn precheck(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    stepped_up: Option<&SteppedUp>,
    kind: KeyKind,
    input: &KeyInput,
) -> Result<(), AppError> {
    let mut conn = state.pool.acquire().await?;
    let pol = policy(&mut conn, ctx).await?;
    let mut checked = check_input(input, kind, state.clock.now_ms(), pol.max_age_days)?;
    refuse_machines_only_behind_proxy(state, &checked)?;
    check_power(&mut conn, ctx, kind, &mut checked, input.expires_in_days.is_none(), stepped_up).await
}

/// Creates a key; the secret in the answer is never available again.
#[allow(clippy::too_many_arguments)]
pub async fn create_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    stepped_up: Option<&SteppedUp>,
    cleared: Option<&crate::backend::access::four_eyes::Cleared>,
    kind: KeyKind,
    input: &KeyInput,
) -> Result<(KeyView, FreshKeyView), AppError> {
    if kind == KeyKind::Master {
        // A master key only with four-eyes cleared (an approval when the organisation requires one).
        cleared
            .ok_or(AppError::Forbidden)?
            .covers(&crate::backend::access::four_eyes::Act::MasterKey { input: input.clone() })?;
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let pol = policy(&mut tx, ctx).await?;
    let mut checked = check_input(input, kind, now, pol.max_age_days)?;
    refuse_machines_only_behind_proxy(state, &checked)?;
    check_power(&mut tx, ctx, kind, &mut checked, input.expires_in_days.is_none(), stepped_up).await?;
    let label = match kind {
        KeyKind::Canary => match input.looks_like.unwrap_or(KeyKind::Master) {
            KeyKind::Canary => KeyKind::Master,
            other => other,
        },
        other => other,
    };
    let public_id = new_public_id();
    let secret = new_secret(label, &public_id);
    let id = new_event_id();
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, kind, label, description, owner_membership_id, created_by, scopes, \
         allowed_ips, allowed_referers, rate_per_hour, created_at, expires_at, generation, digest, display_prefix, \
         public_id, machines_only) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16, $17)",
    )
    .bind(&id)
    .bind(ctx.tenant_id().as_str())
    .bind(kind.as_str())
    .bind(label.as_str())
    .bind(&checked.description)
    .bind(ctx.membership_id().as_str())
    .bind(actor_ref(ctx))
    .bind(checked.scopes.to_text())
    .bind(guard::join_list(&checked.ips))
    .bind(guard::join_list(&checked.referers))
    .bind(checked.rate)
    .bind(now)
    .bind(checked.expires_at)
    .bind(state.keys.api_key_digest(&secret))
    .bind(format::display_prefix(&secret))
    .bind(&public_id)
    .bind(i64::from(checked.machines_only))
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "{} key {} “{}”: {}",
        kind.as_str(),
        format::display_prefix(&secret),
        checked.description,
        describe(&checked)
    );
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "key.create", Outcome::Success, &detail).with_key(&id),
    )
    .await?;
    let row = load_row(&mut tx, ctx, &id).await?;
    tx.commit().await?;
    let view = row.view(now, &pol, true);
    Ok((view, FreshKeyView { key_id: id, description: checked.description, secret }))
}

fn describe(c: &Checked) -> String {
    format!(
        "scopes [{}], expires {}, IPs [{}], referers [{}], limit {}{}",
        c.scopes.to_text(),
        crate::model::format_utc(c.expires_at),
        guard::join_list(&c.ips),
        guard::join_list(&c.referers),
        c.rate.map(|r| format!("{r}/h per IP")).unwrap_or_else(|| "none".to_owned()),
        if c.machines_only { ", machines only" } else { "" }
    )
}

/// Changes a key's description and guardrails (step-up for a person; not available to keys). Raising a
/// restricted key's scopes is bound by the same rule as creating it.
#[allow(clippy::too_many_arguments)]
pub async fn update_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    proof: &SteppedUp,
    id: &str,
    input: &KeyInput,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    if row.revoked_at.is_some() {
        return Err(AppError::Conflict { msg: "A revoked key cannot be changed.".into() });
    }
    let pol = policy(&mut tx, ctx).await?;
    let mut checked = check_input(input, row.kind, now, pol.max_age_days)?;
    refuse_machines_only_behind_proxy(state, &checked)?;
    check_power(&mut tx, ctx, row.kind, &mut checked, input.expires_in_days.is_none(), Some(proof)).await?;
    // An admin may edit a member's key, but never past what the key's maker holds.
    let (maker_role, maker_grants) = maker_power(&mut tx, ctx, &row.owner_membership_id).await?;
    if !maker_may_hold(maker_role, &maker_grants, row.kind, &checked.scopes) {
        return Err(AppError::validation("scopes", "A key can only reach what its maker can reach in the console."));
    }
    sqlx::query(
        "UPDATE api_keys SET description = $1, scopes = $2, allowed_ips = $3, allowed_referers = $4, \
         rate_per_hour = $5, expires_at = $6, machines_only = $9 WHERE id = $7 AND tenant_id = $8",
    )
    .bind(&checked.description)
    .bind(checked.scopes.to_text())
    .bind(guard::join_list(&checked.ips))
    .bind(guard::join_list(&checked.referers))
    .bind(checked.rate)
    .bind(checked.expires_at)
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .bind(i64::from(checked.machines_only))
    .execute(&mut *tx)
    .await?;
    let detail = format!("{}: {} → {}", row.display_prefix, describe(&row.guardrails()), describe(&checked));
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "key.update", Outcome::Success, &detail).with_key(id),
    )
    .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Where a fresh secret waits, sealed, between the action that made it and the one page that shows it.
const FRESH_KEY: &str = "fresh_key";

/// Keeps a fresh secret in the member's session, sealed under the server key and bound to the account.
pub async fn stash_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    fresh: &FreshKeyView,
) -> Result<(), AppError> {
    let labels = (fresh.key_id.as_str(), fresh.description.as_str());
    crate::backend::identity::sessions::fresh::stash(state, session, ctx, FRESH_KEY, labels, &fresh.secret).await
}

/// Takes the fresh secret out of the session: it is shown once, and a reload finds nothing.
pub async fn take_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
) -> Result<Option<FreshKeyView>, AppError> {
    let taken = crate::backend::identity::sessions::fresh::take(state, session, ctx, FRESH_KEY).await?;
    Ok(taken.map(|((key_id, description), secret)| FreshKeyView { key_id, description, secret }))
}
