//! Signing in and out, step-up, changing a password; setting one from a link is `setup`.
//!
//! Sign-in failures are uniform (OWASP Authentication Cheat Sheet): one message for an unknown email, an
//! account without a password and a wrong password, and the same argon2 work on every path (a dummy hash
//! stands in for a missing one), so neither the answer nor its timing tells whether an account exists.
//! Attempts are throttled by email, (email, IP) and known device before the password check (`throttle`): a
//! throttled or suspended attempt gets the same answer, with the reason only in the access history.

use crate::backend::access::{MemberParts, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::accounts::email_key;
use crate::backend::identity::password::check_new_password;
use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::backend::platform::metrics::{Limiter, SignIn};
use crate::backend::platform::request::RequestMeta;
use crate::backend::{identity::throttle, AppState};
use crate::model::AppError;
use secrecy::SecretString;
use sqlx::Row as _;

pub(crate) mod failure;
pub mod setup;

/// The one message every failed sign-in gets.
pub const SIGN_IN_FAILED: &str = "The email or password is incorrect.";

/// The most characters of an email or password we even look at in a sign-in attempt.
const MAX_INPUT: usize = 4096;

struct Candidate {
    account_id: AccountId,
    email: String,
    hash: Option<String>,
    totp_on: bool,
    must_enroll: bool,
    /// Memberships, oldest first.
    memberships: Vec<CandidateMembership>,
}

#[derive(Clone)]
struct CandidateMembership {
    id: MembershipId,
    tenant_id: TenantId,
    role: String,
    tenant_name: String,
    requires_two_factor: bool,
    grants: Vec<crate::model::Permission>,
}

impl Candidate {
    fn failing(&self) -> failure::FailingAccount<'_> {
        failure::FailingAccount {
            account_id: &self.account_id,
            email: &self.email,
            tenants: self.memberships.iter().map(|m| (&m.tenant_id, m.tenant_name.as_str())).collect(),
        }
    }
}

async fn find_candidate(state: &AppState, email: &str) -> Result<Option<Candidate>, AppError> {
    let rows = sqlx::query(
        "SELECT a.id, a.email, a.password_hash, a.must_enroll_two_factor, \
           (SELECT COUNT(*) FROM totp_factors f WHERE f.account_id = a.id AND f.enabled_at IS NOT NULL) AS totp_on, \
           m.id AS membership_id, m.tenant_id, m.role, m.grants, t.name, t.require_two_factor \
         FROM accounts a LEFT JOIN memberships m ON m.account_id = a.id AND m.deactivated_at IS NULL \
         LEFT JOIN tenants t ON t.id = m.tenant_id \
         WHERE a.email_key = $1 ORDER BY m.created_at, m.id",
    )
    .bind(email_key(email))
    .fetch_all(&state.pool)
    .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut cand = Candidate {
        account_id: AccountId(first.try_get("id")?),
        email: first.try_get("email")?,
        hash: first.try_get("password_hash")?,
        totp_on: first.try_get::<i64, _>("totp_on")? > 0,
        must_enroll: first.try_get::<i64, _>("must_enroll_two_factor")? == 1,
        memberships: Vec::new(),
    };
    for r in &rows {
        let m: Option<String> = r.try_get("membership_id")?;
        let t: Option<String> = r.try_get("tenant_id")?;
        let role: Option<String> = r.try_get("role")?;
        let name: Option<String> = r.try_get("name")?;
        let requires: Option<i64> = r.try_get("require_two_factor")?;
        let grants: Option<String> = r.try_get("grants")?;
        if let (Some(m), Some(t), Some(role), Some(name)) = (m, t, role, name) {
            cand.memberships.push(CandidateMembership {
                id: MembershipId(m),
                tenant_id: TenantId(t),
                role,
                tenant_name: name,
                requires_two_factor: requires == Some(1),
                grants: crate::model::Permission::parse_list(grants.as_deref().unwrap_or("")),
            });
        }
    }
    Ok(Some(cand))
}

/// What follows a correct password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInNext {
    /// Signed in.
    Done,
    /// A TOTP or recovery code is needed.
    SecondFactor,
    /// An authenticator must be enrolled first (tenant policy or an admin's reset).
    Enroll,
}

/// A correct password: the tenant context it opens and what is still needed before it becomes a session.
#[derive(Debug, Clone)]
pub struct PasswordAccepted {
    pub ctx: TenantCtx,
    pub next: SignInNext,
    /// Active memberships: from two, the member picks the organisation after signing in.
    pub tenant_count: usize,
}

/// Checks an email and password, throttled (see `throttle`): a throttled or suspended attempt never reaches
/// the password check. `device` is the browser's device cookie, if any. On success returns the context of the
/// account's first tenant (the tenant picker comes with multi-tenant accounts) and whether a second factor or
/// an enrollment must follow; on any failure the one uniform error. Both are audited.
pub async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    device: Option<&str>,
    email: &str,
    password: &SecretString,
) -> Result<PasswordAccepted, AppError> {
    let mut outcome = SignIn::Error;
    let result = check_sign_in(state, meta, device, email, password, &mut outcome).await;
    state.metrics.sign_in(match (&result, outcome) {
        (Err(AppError::Unavailable), SignIn::Error) => SignIn::Unavailable,
        _ => outcome,
    });
    result
}

/// `sign_in`, noting the outcome for the metrics as it is decided.
async fn check_sign_in(
    state: &AppState,
    meta: &RequestMeta,
    device: Option<&str>,
    email: &str,
    password: &SecretString,
    outcome: &mut SignIn,
) -> Result<PasswordAccepted, AppError> {
    use secrecy::ExposeSecret as _;
    // At most a few attempts touch the database at once; a storm queues here instead of in the pool.
    let _attempt = state.hasher.attempt().await?;
    let failed = || AppError::validation("credentials", SIGN_IN_FAILED);
    let too_long = email.len() > MAX_INPUT || password.expose_secret().len() > MAX_INPUT;
    let candidate = if too_long { None } else { find_candidate(state, email).await? };
    let key = email_key(&email.chars().take(MAX_INPUT).collect::<String>());
    let account = candidate.as_ref().filter(|c| !c.memberships.is_empty());
    let (counters, refusal) = {
        let now = state.clock.now_ms();
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        // The same lookups for an unknown email (an id no account has), so the work does not tell.
        let nobody = AccountId(String::new());
        let who = account.map(|c| &c.account_id).unwrap_or(&nobody);
        let standing = throttle::devices::standing(&mut tx, who, device, &meta.ip).await?;
        let counters = throttle::Counters::new(state, &key, &meta.ip, &standing);
        let refusal = throttle::reserve(&mut tx, &counters, now).await?.err();
        // A refusal (or a lost race for the last allowed attempt) undoes any count taken.
        if refusal.is_none() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        (counters, refusal)
    };
    state.metrics.throttle(Limiter::Password, throttle::decision(refusal));
    if let Some(refusal) = refusal {
        *outcome = match refusal {
            throttle::Refusal::Throttled => SignIn::Throttled,
            throttle::Refusal::Suspended => SignIn::Suspended,
        };
        failure::record(state, meta, "sign_in", email, account.map(Candidate::failing), &counters, refusal.as_str())
            .await?;
        return Err(failed());
    }
    let stored = account.and_then(|c| c.hash.as_deref());
    let verified = state.hasher.verify(stored, password).await?;
    let c = match account {
        Some(c) if verified.ok => c,
        _ => {
            let detail = if account.is_some_and(|c| c.hash.is_none()) { "no password set" } else { "wrong password" };
            *outcome = match (account, detail) {
                (None, _) => SignIn::UnknownAccount,
                (Some(_), "no password set") => SignIn::NoPassword,
                (Some(_), _) => SignIn::WrongPassword,
            };
            failure::record(state, meta, "sign_in", email, account.map(Candidate::failing), &counters, detail).await?;
            return Err(failed());
        }
    };
    let m = c.memberships[0].clone();
    let ctx = TenantCtx::member(MemberParts {
        tenant_id: m.tenant_id,
        account_id: c.account_id.clone(),
        membership_id: m.id,
        role: m.role,
        email: c.email.clone(),
        tenant_name: m.tenant_name,
        grants: m.grants,
        tenant_count: i64::try_from(c.memberships.len()).unwrap_or(i64::MAX),
    });
    // The tenant's network rules hold even a correct password (the attempt stays counted, nothing resets).
    if let Ok(ip) = meta.ip.parse() {
        if crate::backend::network::rules::refuses_sign_in(state, &ctx, meta, ip).await? {
            *outcome = SignIn::RefusedByNetworkRules;
            return Err(AppError::validation("credentials", SIGN_IN_FAILED));
        }
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    throttle::reset(&mut tx, &counters).await?;
    if let Some(rehash) = &verified.rehash {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
            .bind(rehash)
            .bind(c.account_id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let next = if c.totp_on {
        SignInNext::SecondFactor
    } else if c.must_enroll || m.requires_two_factor {
        SignInNext::Enroll
    } else {
        SignInNext::Done
    };
    match next {
        SignInNext::Done => record_sign_in(&mut tx, &state.keys, now, meta, &ctx, "password").await?,
        SignInNext::SecondFactor | SignInNext::Enroll => {
            let detail = if next == SignInNext::Enroll { "enrollment required" } else { "second factor next" };
            audit::record(
                &mut tx,
                &state.keys,
                now,
                &NewEvent {
                    tenant_id: Some(ctx.tenant_id()),
                    account_id: Some(ctx.account_id()),
                    actor: ctx.actor(),
                    action: "sign_in.password",
                    outcome: Outcome::Success,
                    meta,
                    detail,
                    key_id: None,
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    *outcome = match next {
        SignInNext::Done => SignIn::Success,
        SignInNext::SecondFactor => SignIn::SecondFactorRequired,
        SignInNext::Enroll => SignIn::EnrollmentRequired,
    };
    Ok(PasswordAccepted { ctx, next, tenant_count: c.memberships.len() })
}

/// Records a completed sign-in (`method`: "password", "password+totp", …) and the membership's last sign-in.
async fn record_sign_in(
    conn: &mut sqlx::AnyConnection,
    keys: &crate::backend::platform::crypto::ServerKeys,
    now: i64,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    method: &str,
) -> Result<(), AppError> {
    sqlx::query("UPDATE memberships SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(ctx.membership_id().as_str())
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        keys,
        now,
        &NewEvent {
            tenant_id: Some(ctx.tenant_id()),
            account_id: Some(ctx.account_id()),
            actor: ctx.actor(),
            action: "sign_in",
            outcome: Outcome::Success,
            meta,
            detail: method,
            key_id: None,
        },
    )
    .await
}

/// Completes a sign-in after the second factor (or the enrollment) of a half-signed-in browser.
pub async fn complete_sign_in(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    method: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    record_sign_in(&mut tx, &state.keys, now, meta, ctx, method).await?;
    tx.commit().await?;
    Ok(())
}

async fn password_hash_of(state: &AppState, account: &AccountId) -> Result<Option<String>, AppError> {
    let row = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1")
        .bind(account.as_str())
        .fetch_optional(&state.pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("password_hash")?,
        None => None,
    })
}

/// Step-up ("sudo mode"): the signed-in member proves it is them again with the password and, when enrolled,
/// a second factor. The caller marks the session on success.
pub async fn step_up(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    password: &SecretString,
    code: &str,
) -> Result<(), AppError> {
    // A step-up is a password check like a sign-in (NIST SP 800-63B §5.2.2): one at a time per account, within
    // the tenant's share of the hashing queue, and counted in the account's sign-in budgets, so a stolen
    // session is no unthrottled password oracle and cannot starve every tenant's sign-ins.
    let _claim = state.hasher.claim(ctx.account_id().as_str(), ctx.tenant_id().as_str()).inspect_err(|_| {
        state.metrics.step_up("busy");
    })?;
    let failing = || failure::FailingAccount {
        account_id: ctx.account_id(),
        email: ctx.actor(),
        tenants: vec![(ctx.tenant_id(), ctx.tenant_name())],
    };
    let (counters, refusal) = {
        let now = state.clock.now_ms();
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        let standing = throttle::devices::standing(&mut tx, ctx.account_id(), None, &meta.ip).await?;
        let counters = throttle::Counters::new(state, &email_key(ctx.actor()), &meta.ip, &standing);
        let refusal = throttle::reserve(&mut tx, &counters, now).await?.err();
        if refusal.is_none() {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        (counters, refusal)
    };
    state.metrics.throttle(Limiter::Password, throttle::decision(refusal));
    if let Some(refusal) = refusal {
        state.metrics.step_up(refusal.as_str());
        failure::record(state, meta, "step_up", ctx.actor(), Some(failing()), &counters, refusal.as_str()).await?;
        return Err(AppError::RateLimited { retry_after: 60 });
    }
    let stored = password_hash_of(state, ctx.account_id()).await?;
    let verified = state.hasher.verify(stored.as_deref(), password).await?;
    let now = state.clock.now_ms();
    if !verified.ok {
        state.metrics.step_up("wrong_password");
        failure::record(state, meta, "step_up", ctx.actor(), Some(failing()), &counters, "wrong password").await?;
        return Err(AppError::validation("password", "The password is incorrect."));
    }
    {
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        throttle::reset(&mut tx, &counters).await?;
        tx.commit().await?;
    }
    state.metrics.step_up("success");
    let totp_on = {
        let mut conn = state.pool.acquire().await?;
        crate::backend::identity::two_factor::is_enabled(&mut conn, ctx.account_id()).await?
    };
    let method = if totp_on {
        crate::backend::identity::two_factor::verify(state, meta, ctx, code, "step_up").await?.as_str()
    } else {
        "password"
    };
    let mut conn = state.pool.acquire().await?;
    audit::record(&mut conn, &state.keys, now, &NewEvent::by(ctx, meta, "step_up", Outcome::Success, method)).await
}

/// Changes the member's password (step-up and the current password required). With `sign_out_others`, every
/// other session of the account ends; `keep` is this session's id hash.
#[allow(clippy::too_many_arguments)]
pub async fn change_password(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _proof: &crate::backend::identity::sessions::SteppedUp,
    current: &SecretString,
    new: &SecretString,
    sign_out_others: bool,
    keep: Option<&str>,
) -> Result<u64, AppError> {
    use secrecy::ExposeSecret as _;
    let stored = password_hash_of(state, ctx.account_id()).await?;
    let verified = state.hasher.verify(stored.as_deref(), current).await?;
    if !verified.ok {
        let mut conn = state.pool.acquire().await?;
        let now = state.clock.now_ms();
        let ev = NewEvent::by(ctx, meta, "password.change", Outcome::Failure, "wrong current password");
        audit::record(&mut conn, &state.keys, now, &ev).await?;
        return Err(AppError::validation("current_password", "The current password is incorrect."));
    }
    let min = {
        let mut conn = state.pool.acquire().await?;
        crate::backend::identity::password::min_chars_for(&mut conn, ctx.account_id()).await?
    };
    check_new_password(new.expose_secret(), min, ctx.actor(), ctx.tenant_name())?;
    let hash = state.hasher.hash(new).await?;
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, password_set_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now)
        .bind(ctx.account_id().as_str())
        .execute(&mut *tx)
        .await?;
    // A reset link sent before the change (to a mailbox that may be the reason for it) no longer resets.
    crate::backend::identity::tokens::retire_all(&mut tx, ctx.account_id(), now).await?;
    let ended = if sign_out_others {
        crate::backend::identity::sessions::end_account_sessions(
            &mut tx,
            ctx.account_id(),
            Some(keep.unwrap_or_default()),
        )
        .await?
    } else {
        0
    };
    let detail = format!("{ended} other session(s) signed out");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "password.change", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    crate::backend::alerts::notify::send(
        state,
        &crate::backend::alerts::notify::Notice::PasswordChanged,
        ctx.actor(),
        ctx.tenant_name(),
        meta,
    )
    .await;
    Ok(ended)
}

/// Records a sign-out (the session itself is ended by the caller).
pub async fn record_sign_out(state: &AppState, ctx: &TenantCtx, meta: &RequestMeta) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    audit::record(
        &mut conn,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(ctx.tenant_id()),
            account_id: Some(ctx.account_id()),
            actor: ctx.actor(),
            action: "sign_out",
            outcome: Outcome::Success,
            meta,
            detail: "",
            key_id: None,
        },
    )
    .await
}
