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
pub mod verify;

use super::audit::{self, NewEvent, Outcome};
use super::clock::DAY_MS;
use super::context::{Granted, TenantCtx};
use super::ids::new_event_id;
use super::request::RequestMeta;
use super::sessions::SteppedUp;
use super::AppState;
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
     COALESCE(a.email, '') AS owner_email";

/// What a person or a master key asks for when creating a key (and, less the kind, when changing one).
#[derive(Debug, Clone, Default)]
pub struct KeyInput {
    pub description: String,
    /// Days until expiry; `None` means the tenant's maximum.
    pub expires_in_days: Option<i64>,
    pub allowed_ips: String,
    pub allowed_referers: String,
    pub rate_per_hour: Option<i64>,
    /// For restricted keys; ignored for the others.
    pub scopes: Scopes,
    /// For canary keys: the kind it poses as (master by default).
    pub looks_like: Option<KeyKind>,
}

/// Guardrails that passed validation.
#[derive(Debug, Clone)]
struct Checked {
    description: String,
    expires_at: i64,
    ips: Vec<Cidr>,
    referers: Vec<RefererPattern>,
    rate: Option<i64>,
    scopes: Scopes,
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
    if kind == KeyKind::Restricted && scopes.to_text().is_empty() {
        return Err(AppError::validation("scopes", "A restricted key needs read or write access to something."));
    }
    Ok(Checked { description, expires_at: now + days * DAY_MS, ips, referers, rate: input.rate_per_hour, scopes })
}

/// The tenant's key policy.
pub async fn policy(conn: &mut AnyConnection, ctx: &TenantCtx) -> Result<KeyPolicyView, AppError> {
    let row =
        sqlx::query("SELECT key_max_age_days, key_disable_unused_days, security_contact FROM tenants WHERE id = $1")
            .bind(ctx.tenant_id.as_str())
            .fetch_one(conn)
            .await?;
    Ok(KeyPolicyView {
        max_age_days: row.try_get("key_max_age_days")?,
        disable_unused_days: row.try_get("key_disable_unused_days")?,
        security_contact: row.try_get("security_contact")?,
    })
}

/// Changes the key policy (admin, step-up). Shortening the maximum age does not shorten existing keys; the
/// list shows which ones outlive it.
pub async fn set_policy(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &super::context::AdminHandle,
    _proof: &SteppedUp,
    new: &KeyPolicyView,
) -> Result<(), AppError> {
    if !MAX_AGE_DAYS.contains(&new.max_age_days) {
        return Err(AppError::validation("max_age_days", "The maximum key age is 1 to 730 days."));
    }
    if new.disable_unused_days.is_some_and(|d| !(1..=730).contains(&d)) {
        return Err(AppError::validation("disable_unused_days", "Disable unused keys after 1 to 730 days, or never."));
    }
    let contact = new.security_contact.trim();
    if !contact.is_empty() && super::accounts::validate_email(contact).is_err() {
        return Err(AppError::validation("security_contact", "The security contact must be an email address."));
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let before = policy(&mut tx, ctx).await?;
    sqlx::query(
        "UPDATE tenants SET key_max_age_days = $1, key_disable_unused_days = $2, security_contact = $3 WHERE id = $4",
    )
    .bind(new.max_age_days)
    .bind(new.disable_unused_days)
    .bind(contact)
    .bind(ctx.tenant_id.as_str())
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "max age {} → {} days; disable unused after {} → {}; security contact {} → {}",
        before.max_age_days,
        new.max_age_days,
        days_or_never(before.disable_unused_days),
        days_or_never(new.disable_unused_days),
        or_none(&before.security_contact),
        or_none(contact)
    );
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "key_policy.update", Outcome::Success, &detail)).await?;
    tx.commit().await?;
    state.key_guard.invalidate_all();
    Ok(())
}

fn days_or_never(d: Option<i64>) -> String {
    d.map(|d| format!("{d} days")).unwrap_or_else(|| "never".to_owned())
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "none"
    } else {
        s
    }
}

/// Which kinds `ctx` may create from the console, and which resources it may hand out.
fn creatable(ctx: &TenantCtx) -> (Vec<KeyKind>, Vec<ApiResource>) {
    let kinds = if ctx.is_admin() { KeyKind::ALL.to_vec() } else { vec![KeyKind::Read, KeyKind::Restricted] };
    let resources = ApiResource::ALL.into_iter().filter(|r| ctx.can(r.feature())).collect();
    (kinds, resources)
}

/// Refuses what `ctx` may not create or hold: the "never more than its maker" rule.
async fn check_power(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    kind: KeyKind,
    checked: &Checked,
    stepped_up: Option<&SteppedUp>,
) -> Result<(), AppError> {
    match &ctx.api_key {
        None => {
            let (kinds, resources) = creatable(ctx);
            if !kinds.contains(&kind) {
                return Err(AppError::Forbidden);
            }
            let held = Scopes(resources.iter().map(|r| (*r, Access::Write)).collect());
            if !ctx.is_admin() && !checked.scopes.within(&held) {
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
            if matches!(kind, KeyKind::Master | KeyKind::Canary) {
                return Err(AppError::Forbidden);
            }
            let parent = load_row(conn, ctx, parent_id).await?;
            if parent.kind != KeyKind::Master || parent.revoked_at.is_some() {
                return Err(AppError::Forbidden);
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
    if let Some(limit) = parent.rate_per_hour {
        if child.rate.is_none_or(|r| r > limit) {
            return Err(AppError::validation("rate_per_hour", "The hourly limit cannot exceed the creating key's."));
        }
    }
    Ok(())
}

fn new_secret(label: KeyKind) -> String {
    use rand::Rng as _;
    let random: String = rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(format::RANDOM_LEN)
        .map(char::from)
        .collect();
    format::compose(label.as_str(), &random)
}

fn actor_ref(ctx: &TenantCtx) -> String {
    match &ctx.api_key {
        Some(id) => format!("key:{id}"),
        None => ctx.membership_id.as_str().to_owned(),
    }
}

/// Creates a key; the secret in the answer is never available again.
pub async fn create_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted,
    stepped_up: Option<&SteppedUp>,
    kind: KeyKind,
    input: &KeyInput,
) -> Result<(KeyView, FreshKeyView), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let pol = policy(&mut tx, ctx).await?;
    let checked = check_input(input, kind, now, pol.max_age_days)?;
    check_power(&mut tx, ctx, kind, &checked, stepped_up).await?;
    let label = match kind {
        KeyKind::Canary => match input.looks_like.unwrap_or(KeyKind::Master) {
            KeyKind::Canary => KeyKind::Master,
            other => other,
        },
        other => other,
    };
    let secret = new_secret(label);
    let id = new_event_id();
    sqlx::query(
        "INSERT INTO api_keys (id, tenant_id, kind, label, description, owner_membership_id, created_by, scopes, \
         allowed_ips, allowed_referers, rate_per_hour, created_at, expires_at, generation, digest, display_prefix) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15)",
    )
    .bind(&id)
    .bind(ctx.tenant_id.as_str())
    .bind(kind.as_str())
    .bind(label.as_str())
    .bind(&checked.description)
    .bind(ctx.membership_id.as_str())
    .bind(actor_ref(ctx))
    .bind(checked.scopes.to_text())
    .bind(guard::join_list(&checked.ips))
    .bind(guard::join_list(&checked.referers))
    .bind(checked.rate)
    .bind(now)
    .bind(checked.expires_at)
    .bind(state.keys.api_key_digest(&secret))
    .bind(format::display_prefix(&secret))
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "{} key {} “{}”: {}",
        kind.as_str(),
        format::display_prefix(&secret),
        checked.description,
        describe(&checked)
    );
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "key.create", Outcome::Success, &detail).with_key(&id))
        .await?;
    let row = load_row(&mut tx, ctx, &id).await?;
    tx.commit().await?;
    let view = row.view(now, &pol, true);
    Ok((view, FreshKeyView { key_id: id, description: checked.description, secret }))
}

fn describe(c: &Checked) -> String {
    format!(
        "scopes [{}], expires {}, IPs [{}], referers [{}], limit {}",
        c.scopes.to_text(),
        crate::model::format_utc(c.expires_at),
        guard::join_list(&c.ips),
        guard::join_list(&c.referers),
        c.rate.map(|r| format!("{r}/h per IP")).unwrap_or_else(|| "none".to_owned())
    )
}

/// Changes a key's description and guardrails (step-up for a person; not available to keys). Raising a
/// restricted key's scopes is bound by the same rule as creating it.
#[allow(clippy::too_many_arguments)]
pub async fn update_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted,
    proof: &SteppedUp,
    id: &str,
    input: &KeyInput,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    if row.revoked_at.is_some() {
        return Err(AppError::Conflict { msg: "A revoked key cannot be changed.".into() });
    }
    let pol = policy(&mut tx, ctx).await?;
    let checked = check_input(input, row.kind, now, pol.max_age_days)?;
    check_power(&mut tx, ctx, row.kind, &checked, Some(proof)).await?;
    sqlx::query(
        "UPDATE api_keys SET description = $1, scopes = $2, allowed_ips = $3, allowed_referers = $4, \
         rate_per_hour = $5, expires_at = $6 WHERE id = $7 AND tenant_id = $8",
    )
    .bind(&checked.description)
    .bind(checked.scopes.to_text())
    .bind(guard::join_list(&checked.ips))
    .bind(guard::join_list(&checked.referers))
    .bind(checked.rate)
    .bind(checked.expires_at)
    .bind(id)
    .bind(ctx.tenant_id.as_str())
    .execute(&mut *tx)
    .await?;
    let before = Checked {
        description: row.description.clone(),
        expires_at: row.expires_at,
        ips: guard::parse_list(&row.allowed_ips).unwrap_or_default(),
        referers: guard::parse_list(&row.allowed_referers).unwrap_or_default(),
        rate: row.rate_per_hour,
        scopes: row.scopes.clone(),
    };
    let detail = format!("{}: {} → {}", row.display_prefix, describe(&before), describe(&checked));
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "key.update", Outcome::Success, &detail).with_key(id)).await?;
    tx.commit().await?;
    state.key_guard.invalidate_all();
    Ok(())
}

/// Issues a new secret; the old one keeps working for `grace_ms` (0: not at all). A previous secret still in
/// its grace ends now.
pub async fn roll_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted,
    id: &str,
    grace_ms: i64,
) -> Result<FreshKeyView, AppError> {
    if !(0..=MAX_GRACE_MS).contains(&grace_ms) {
        return Err(AppError::validation("grace", "The old secret may keep working for 0 to 30 days."));
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(AppError::Conflict { msg: "A revoked or expired key cannot be rolled: create a new one.".into() });
    }
    if ctx.api_key.is_some() {
        // A key may only roll keys it could have created, or it could obtain a looser secret than its own.
        let checked = Checked {
            description: row.description.clone(),
            expires_at: row.expires_at,
            ips: guard::parse_list(&row.allowed_ips).unwrap_or_default(),
            referers: guard::parse_list(&row.allowed_referers).unwrap_or_default(),
            rate: row.rate_per_hour,
            scopes: row.scopes.clone(),
        };
        check_power(&mut tx, ctx, row.kind, &checked, None).await?;
    }
    let secret = new_secret(KeyKind::parse(&row.label).unwrap_or(KeyKind::Master));
    let prefix = format::display_prefix(&secret);
    let (prev_digest, prev_prefix, prev_end) = if grace_ms > 0 {
        (Some(row.digest.clone()), Some(row.display_prefix.clone()), Some(now + grace_ms))
    } else {
        (None, None, None)
    };
    let done = sqlx::query(
        "UPDATE api_keys SET digest = $1, display_prefix = $2, prev_digest = $3, prev_display_prefix = $4, \
         prev_expires_at = $5, rolled_at = $6, generation = generation + 1 \
         WHERE id = $7 AND tenant_id = $8 AND generation = $9",
    )
    .bind(state.keys.api_key_digest(&secret))
    .bind(&prefix)
    .bind(prev_digest)
    .bind(prev_prefix)
    .bind(prev_end)
    .bind(now)
    .bind(id)
    .bind(ctx.tenant_id.as_str())
    .bind(row.generation)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict { msg: "The key was rolled at the same moment; reload and try again.".into() });
    }
    let grace = if grace_ms == 0 {
        "the old secret stopped working".to_owned()
    } else {
        format!("the old secret {} works until {}", row.display_prefix, crate::model::format_utc(now + grace_ms))
    };
    let detail = format!("{} → {prefix}; {grace}", row.display_prefix);
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "key.roll", Outcome::Success, &detail).with_key(id)).await?;
    tx.commit().await?;
    state.key_guard.invalidate_all();
    Ok(FreshKeyView { key_id: id.to_owned(), description: row.description, secret })
}

/// Ends the old secret's grace now (the admin saw that its clients moved).
pub async fn end_grace(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    let Some(prev) = row.prev_display_prefix.clone().filter(|_| row.prev_expires_at.is_some_and(|e| e > now)) else {
        return Ok(());
    };
    sqlx::query("UPDATE api_keys SET prev_expires_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(id)
        .bind(ctx.tenant_id.as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{}: the old secret {prev} stopped working", row.display_prefix);
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "key.end_grace", Outcome::Success, &detail).with_key(id))
        .await?;
    tx.commit().await?;
    state.key_guard.invalidate_all();
    Ok(())
}

/// Revokes a key: both its secrets stop working at once.
pub async fn revoke_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    if row.revoked_at.is_some() {
        return Ok(());
    }
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(ctx.tenant_id.as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{} key {} “{}” revoked", row.kind.as_str(), row.display_prefix, row.description);
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "key.revoke", Outcome::Success, &detail).with_key(id)).await?;
    tx.commit().await?;
    state.key_guard.invalidate_all();
    Ok(())
}

/// Revokes every key a member owns (deactivation and removal); the caller empties the cache after commit.
pub async fn revoke_member_keys(
    conn: &mut AnyConnection,
    tenant_id: &super::ids::TenantId,
    membership: &super::ids::MembershipId,
    now: i64,
) -> Result<u64, AppError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND owner_membership_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(tenant_id.as_str())
    .bind(membership.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The keys page: every key for an admin, a member's own keys otherwise (canaries only to admins).
pub async fn list_keys(state: &AppState, ctx: &TenantCtx, _granted: &Granted) -> Result<KeysView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let pol = policy(&mut conn, ctx).await?;
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS}, k.digest FROM api_keys k LEFT JOIN memberships m ON m.id = k.owner_membership_id \
         LEFT JOIN accounts a ON a.id = m.account_id WHERE k.tenant_id = $1 ORDER BY k.created_at DESC, k.id DESC"
    ))
    .bind(ctx.tenant_id.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut keys = Vec::new();
    for r in &rows {
        let row = KeyRow::from_row(r)?;
        if row.visible_to(ctx) {
            let manage = row.check_manage(ctx).is_ok();
            keys.push(row.view(now, &pol, manage));
        }
    }
    let (creatable, resources) = creatable(ctx);
    Ok(KeysView { keys, policy: pol, creatable, resources, is_admin: ctx.is_admin() })
}

/// How many live keys the viewer manages are due for rotation (the overview's warning).
pub async fn count_due(conn: &mut AnyConnection, ctx: &TenantCtx, now: i64) -> Result<i64, AppError> {
    let mine = if ctx.is_admin() { "" } else { " AND owner_membership_id = $4 AND kind <> 'canary'" };
    let sql = format!(
        "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         AND (expires_at <= $2 + $3 OR COALESCE(rolled_at, created_at) <= $2 - {DUE_AGE_MS}){mine}"
    );
    let q = sqlx::query_scalar(&sql).bind(ctx.tenant_id.as_str()).bind(now).bind(DUE_WITHIN_MS);
    let q = if ctx.is_admin() { q } else { q.bind(ctx.membership_id.as_str()) };
    Ok(q.fetch_one(conn).await?)
}

/// One key with where its current and previous secrets were used from.
pub async fn get_key(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted,
    id: &str,
) -> Result<KeyDetailView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let pol = policy(&mut conn, ctx).await?;
    let row = load_row(&mut conn, ctx, id).await?;
    if !row.visible_to(ctx) {
        return Err(AppError::NotFound);
    }
    let usage = |generation: i64| {
        sqlx::query(
            "SELECT ip, user_agent, first_used_at, last_used_at, uses FROM api_key_usage \
             WHERE key_id = $1 AND generation = $2 ORDER BY last_used_at DESC LIMIT 50",
        )
        .bind(id.to_owned())
        .bind(generation)
    };
    let to_view = |r: &AnyRow| -> Result<KeyUsageView, sqlx::Error> {
        Ok(KeyUsageView {
            ip: r.try_get("ip")?,
            user_agent: r.try_get("user_agent")?,
            first_used_at: r.try_get("first_used_at")?,
            last_used_at: r.try_get("last_used_at")?,
            uses: r.try_get("uses")?,
        })
    };
    let current_usage =
        usage(row.generation).fetch_all(&mut *conn).await?.iter().map(to_view).collect::<Result<Vec<_>, _>>()?;
    let previous_usage = if row.generation > 1 {
        usage(row.generation - 1).fetch_all(&mut *conn).await?.iter().map(to_view).collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let manage = row.check_manage(ctx).is_ok();
    Ok(KeyDetailView { key: row.view(now, &pol, manage), current_usage, previous_usage })
}

/// A key row of this tenant.
#[derive(Debug, Clone)]
struct KeyRow {
    id: String,
    kind: KeyKind,
    label: String,
    description: String,
    owner_membership_id: String,
    owner_email: String,
    scopes: Scopes,
    allowed_ips: String,
    allowed_referers: String,
    rate_per_hour: Option<i64>,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    generation: i64,
    digest: String,
    display_prefix: String,
    prev_display_prefix: Option<String>,
    prev_expires_at: Option<i64>,
    rolled_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    last_used_ua: Option<String>,
}

async fn load_row(conn: &mut AnyConnection, ctx: &TenantCtx, id: &str) -> Result<KeyRow, AppError> {
    if id.len() > 64 {
        return Err(AppError::NotFound);
    }
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS}, k.digest FROM api_keys k LEFT JOIN memberships m ON m.id = k.owner_membership_id \
         LEFT JOIN accounts a ON a.id = m.account_id WHERE k.id = $1 AND k.tenant_id = $2"
    ))
    .bind(id)
    .bind(ctx.tenant_id.as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = KeyRow::from_row(&row)?;
    // A key acting through the API never sees canaries: they would stop being traps.
    if ctx.api_key.is_some() && row.kind == KeyKind::Canary {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

impl KeyRow {
    fn from_row(r: &AnyRow) -> Result<Self, AppError> {
        let kind: String = r.try_get("kind")?;
        let scopes: String = r.try_get("scopes")?;
        Ok(Self {
            id: r.try_get("id")?,
            kind: KeyKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
            label: r.try_get("label")?,
            description: r.try_get("description")?,
            owner_membership_id: r.try_get("owner_membership_id")?,
            owner_email: r.try_get("owner_email")?,
            scopes: Scopes::from_text(&scopes).ok_or_else(|| corrupt("scopes"))?,
            allowed_ips: r.try_get("allowed_ips")?,
            allowed_referers: r.try_get("allowed_referers")?,
            rate_per_hour: r.try_get("rate_per_hour")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            revoked_at: r.try_get("revoked_at")?,
            generation: r.try_get("generation")?,
            digest: r.try_get("digest")?,
            display_prefix: r.try_get("display_prefix")?,
            prev_display_prefix: r.try_get("prev_display_prefix")?,
            prev_expires_at: r.try_get("prev_expires_at")?,
            rolled_at: r.try_get("rolled_at")?,
            last_used_at: r.try_get("last_used_at")?,
            last_used_ip: r.try_get("last_used_ip")?,
            last_used_ua: r.try_get("last_used_ua")?,
        })
    }

    fn visible_to(&self, ctx: &TenantCtx) -> bool {
        if ctx.api_key.is_some() {
            return self.kind != KeyKind::Canary;
        }
        ctx.is_admin() || (self.owner_membership_id == ctx.membership_id.as_str() && self.kind != KeyKind::Canary)
    }

    /// Admins manage every key; a member manages the keys they own; a master key manages non-canary keys.
    fn check_manage(&self, ctx: &TenantCtx) -> Result<(), AppError> {
        if !self.visible_to(ctx) {
            return Err(AppError::NotFound);
        }
        if ctx.api_key.is_some() || ctx.is_admin() || self.owner_membership_id == ctx.membership_id.as_str() {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    fn status(&self, now: i64, pol: &KeyPolicyView) -> KeyStatus {
        let secret_since = self.rolled_at.unwrap_or(self.created_at);
        let active_since = self.last_used_at.unwrap_or(secret_since).max(secret_since);
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at <= now {
            KeyStatus::Expired
        } else if pol.disable_unused_days.is_some_and(|d| active_since + d * DAY_MS <= now) {
            KeyStatus::Disabled
        } else if self.expires_at - now <= DUE_WITHIN_MS || now - secret_since >= DUE_AGE_MS {
            KeyStatus::Due
        } else {
            KeyStatus::Active
        }
    }

    fn view(&self, now: i64, pol: &KeyPolicyView, can_manage: bool) -> KeyView {
        let grace = self.prev_expires_at.filter(|e| *e > now);
        KeyView {
            id: self.id.clone(),
            kind: self.kind,
            label: self.label.clone(),
            description: self.description.clone(),
            display_prefix: self.display_prefix.clone(),
            owner_email: if self.owner_email.is_empty() {
                "(removed member)".to_owned()
            } else {
                self.owner_email.clone()
            },
            scopes: self.scopes.clone(),
            allowed_ips: split_stored(&self.allowed_ips),
            allowed_referers: split_stored(&self.allowed_referers),
            rate_per_hour: self.rate_per_hour,
            created_at: self.created_at,
            expires_at: self.expires_at,
            expires_in_days: ((self.expires_at - now).max(0) + DAY_MS - 1) / DAY_MS,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip.clone(),
            last_used_user_agent: self.last_used_ua.clone(),
            status: self.status(now, pol),
            previous_prefix: grace.and(self.prev_display_prefix.clone()),
            previous_ends_at: grace,
            rolled_at: self.rolled_at,
            can_manage: can_manage && self.revoked_at.is_none(),
        }
    }
}

fn split_stored(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn corrupt(what: &str) -> AppError {
    let op_id = super::crypto::op_id();
    tracing::error!(op_id = %op_id, "api_keys row has an unreadable {what}");
    AppError::Internal { op_id }
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
    let (seal_id, sealed) = state.keys.seal(ctx.account_id.as_str().as_bytes(), fresh.secret.as_bytes())?;
    session
        .insert(FRESH_KEY, (fresh.key_id.clone(), fresh.description.clone(), seal_id, sealed))
        .await
        .map_err(super::sessions::store_err)
}

/// Takes the fresh secret out of the session: it is shown once, and a reload finds nothing.
pub async fn take_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
) -> Result<Option<FreshKeyView>, AppError> {
    let Some((key_id, description, seal_id, sealed)) =
        session.remove::<(String, String, String, String)>(FRESH_KEY).await.map_err(super::sessions::store_err)?
    else {
        return Ok(None);
    };
    let secret = state.keys.open(&seal_id, ctx.account_id.as_str().as_bytes(), &sealed)?;
    let secret = String::from_utf8(secret).map_err(|_| corrupt("fresh secret"))?;
    Ok(Some(FreshKeyView { key_id, description, secret }))
}
