//! Setting a password from a setup link, signing in and out.
//!
//! Sign-in failures are uniform (OWASP Authentication Cheat Sheet): one message for an unknown email, an
//! account without a password and a wrong password, and the same argon2 work on every path (a dummy hash
//! stands in for a missing one), so neither the answer nor its timing tells whether an account exists.

use super::accounts::email_key;
use super::audit::{self, mask_email, NewEvent, Outcome};
use super::context::TenantCtx;
use super::ids::{AccountId, MembershipId, TenantId};
use super::password::{check_new_password, MIN_CHARS_SINGLE_FACTOR};
use super::request::RequestMeta;
use super::tokens::{self, Purpose};
use super::AppState;
use crate::model::{AppError, PasswordPolicyView, SetupInfo};
use secrecy::SecretString;
use sqlx::Row as _;

/// The one message every failed sign-in gets.
pub const SIGN_IN_FAILED: &str = "The email or password is incorrect.";

/// The most characters of an email or password we even look at in a sign-in attempt.
const MAX_INPUT: usize = 4096;

fn policy() -> PasswordPolicyView {
    PasswordPolicyView { min_chars: MIN_CHARS_SINGLE_FACTOR, max_chars: super::password::MAX_CHARS }
}

/// What the setup page shows for a valid link; `NotFound` for an unknown, used or expired one.
pub async fn setup_info(state: &AppState, token: &str) -> Result<SetupInfo, AppError> {
    let mut conn = state.pool.acquire().await?;
    let subject = tokens::peek(&mut conn, state.clock.now_ms(), Purpose::Setup, token).await?;
    Ok(SetupInfo { email: subject.email, tenant_name: subject.tenant_name, policy: policy() })
}

/// Sets the owner's first password from a setup link and uses the link up.
pub async fn complete_setup(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &SecretString,
) -> Result<(), AppError> {
    use secrecy::ExposeSecret as _;
    let now = state.clock.now_ms();
    let subject = {
        let mut conn = state.pool.acquire().await?;
        tokens::peek(&mut conn, now, Purpose::Setup, token).await?
    };
    check_new_password(password.expose_secret(), MIN_CHARS_SINGLE_FACTOR, &subject.email, &subject.tenant_name)?;
    let hash = state.hasher.hash(password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    tokens::consume(&mut tx, now, Purpose::Setup, token).await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, password_set_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now)
        .bind(subject.account_id.as_str())
        .execute(&mut *tx)
        .await?;
    for action in ["setup_link.use", "password.set"] {
        audit::record(
            &mut tx,
            now,
            &NewEvent {
                tenant_id: Some(&subject.tenant_id),
                account_id: Some(&subject.account_id),
                actor: &subject.email,
                action,
                outcome: Outcome::Success,
                meta,
                detail: "",
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

struct Candidate {
    account_id: AccountId,
    email: String,
    hash: Option<String>,
    /// Memberships, oldest first: (membership, tenant, role, tenant name).
    memberships: Vec<(MembershipId, TenantId, String, String)>,
}

async fn find_candidate(state: &AppState, email: &str) -> Result<Option<Candidate>, AppError> {
    let rows = sqlx::query(
        "SELECT a.id, a.email, a.password_hash, m.id AS membership_id, m.tenant_id, m.role, t.name \
         FROM accounts a LEFT JOIN memberships m ON m.account_id = a.id LEFT JOIN tenants t ON t.id = m.tenant_id \
         WHERE a.email_key = $1 ORDER BY m.created_at, m.id",
    )
    .bind(email_key(email))
    .fetch_all(&state.pool)
    .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let mut cand = Candidate {
        account_id: AccountId(first.try_get("id").map_err(AppError::from)?),
        email: first.try_get("email").map_err(AppError::from)?,
        hash: first.try_get("password_hash").map_err(AppError::from)?,
        memberships: Vec::new(),
    };
    for r in &rows {
        let m: Option<String> = r.try_get("membership_id").map_err(AppError::from)?;
        let t: Option<String> = r.try_get("tenant_id").map_err(AppError::from)?;
        let role: Option<String> = r.try_get("role").map_err(AppError::from)?;
        let name: Option<String> = r.try_get("name").map_err(AppError::from)?;
        if let (Some(m), Some(t), Some(role), Some(name)) = (m, t, role, name) {
            cand.memberships.push((MembershipId(m), TenantId(t), role, name));
        }
    }
    Ok(Some(cand))
}

/// Checks an email and password. On success returns the context of the account's first tenant (the tenant
/// picker comes with multi-tenant accounts); on failure the uniform error. Both are audited.
pub async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    email: &str,
    password: &SecretString,
) -> Result<TenantCtx, AppError> {
    use secrecy::ExposeSecret as _;
    let failed = || AppError::validation("credentials", SIGN_IN_FAILED);
    let too_long = email.len() > MAX_INPUT || password.expose_secret().len() > MAX_INPUT;
    let candidate = if too_long { None } else { find_candidate(state, email).await? };
    let stored = candidate.as_ref().filter(|c| !c.memberships.is_empty()).and_then(|c| c.hash.as_deref());
    let verified = state.hasher.verify(stored, password).await?;
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    let result = match (&candidate, verified.ok) {
        (Some(c), true) => {
            let (membership_id, tenant_id, role, tenant_name) = c.memberships[0].clone();
            if let Some(rehash) = &verified.rehash {
                sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
                    .bind(rehash)
                    .bind(c.account_id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE memberships SET last_sign_in_at = $1 WHERE id = $2")
                .bind(now)
                .bind(membership_id.as_str())
                .execute(&mut *tx)
                .await?;
            audit::record(
                &mut tx,
                now,
                &NewEvent {
                    tenant_id: Some(&tenant_id),
                    account_id: Some(&c.account_id),
                    actor: &c.email,
                    action: "sign_in",
                    outcome: Outcome::Success,
                    meta,
                    detail: "password",
                },
            )
            .await?;
            Ok(TenantCtx {
                tenant_id,
                account_id: c.account_id.clone(),
                membership_id,
                role,
                email: c.email.clone(),
                tenant_name,
            })
        }
        (Some(c), false) if !c.memberships.is_empty() => {
            // A known account: every tenant it belongs to sees the failure in its access history.
            for (_, tenant_id, _, _) in &c.memberships {
                audit::record(
                    &mut tx,
                    now,
                    &NewEvent {
                        tenant_id: Some(tenant_id),
                        account_id: Some(&c.account_id),
                        actor: &c.email,
                        action: "sign_in",
                        outcome: Outcome::Failure,
                        meta,
                        detail: if c.hash.is_some() { "wrong password" } else { "no password set" },
                    },
                )
                .await?;
            }
            Err(failed())
        }
        _ => {
            let masked = mask_email(&email.chars().take(254).collect::<String>());
            audit::record(
                &mut tx,
                now,
                &NewEvent {
                    tenant_id: None,
                    account_id: None,
                    actor: &masked,
                    action: "sign_in",
                    outcome: Outcome::Failure,
                    meta,
                    detail: "unknown account",
                },
            )
            .await?;
            Err(failed())
        }
    };
    tx.commit().await?;
    result
}

/// Records a sign-out (the session itself is ended by the caller).
pub async fn record_sign_out(state: &AppState, ctx: &TenantCtx, meta: &RequestMeta) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    audit::record(
        &mut conn,
        now,
        &NewEvent {
            tenant_id: Some(&ctx.tenant_id),
            account_id: Some(&ctx.account_id),
            actor: &ctx.email,
            action: "sign_out",
            outcome: Outcome::Success,
            meta,
            detail: "",
        },
    )
    .await
}
