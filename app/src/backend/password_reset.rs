//! Resetting a lost password by email.
//!
//! Policy (OWASP Forgot Password Cheat Sheet; NIST 800-63B-4 §4.2): the request always gets the same answer,
//! whether the email is known or not, and the email is sent off the request path so timing doesn't tell either;
//! the link carries a 256-bit single-use token, stored hashed, valid 30 minutes. Setting the password ends every
//! session of the account and lifts a second-factor suspension, every sign-in back-off and the suspension of the
//! password for unknown devices, but never bypasses the second factor: the next sign-in still asks for it.

use super::accounts::{email_key, validate_email};
use super::audit::{self, NewEvent, Outcome};
use super::auth::{set_password_from_link, PasswordFromLink};
use super::ids::{AccountId, TenantId};
use super::notify::{self, Notice};
use super::request::RequestMeta;
use super::tokens::{self, Purpose};
use super::AppState;
use crate::model::AppError;
use secrecy::SecretString;
use sqlx::Row as _;

/// Asks for a reset link. Always `Ok`: an unknown email is indistinguishable from a known one.
pub async fn request_reset(state: &AppState, meta: &RequestMeta, email: &str) -> Result<(), AppError> {
    let Ok(email) = validate_email(email) else {
        return Err(AppError::validation("email", "Enter the email address you sign in with."));
    };
    let row = sqlx::query(
        "SELECT a.id, a.email, m.tenant_id, t.name FROM accounts a JOIN memberships m ON m.account_id = a.id \
         JOIN tenants t ON t.id = m.tenant_id WHERE a.email_key = $1 AND a.password_hash IS NOT NULL \
         ORDER BY m.created_at, m.id LIMIT 1",
    )
    .bind(email_key(&email))
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let account = AccountId(row.try_get("id")?);
    let tenant = TenantId(row.try_get("tenant_id")?);
    let address: String = row.try_get("email")?;
    let tenant_name: String = row.try_get("name")?;
    let now = state.clock.now_ms();
    let mut tx = crate::backend::db::begin_write(&state.pool).await?;
    let token = tokens::issue(&mut tx, now, Purpose::Reset, &account, &tenant).await?;
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&tenant),
            account_id: Some(&account),
            actor: &address,
            action: "password.reset_request",
            outcome: Outcome::Success,
            meta,
            detail: "link sent by email",
            key_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    let link = format!("{}/reset-password/{token}", state.public_url);
    let state = state.clone();
    let meta = meta.clone();
    // Off the request path: the answer's timing must not depend on whether the account exists.
    tokio::spawn(async move {
        notify::send(&state, &Notice::PasswordResetLink { link: &link }, &address, &tenant_name, &meta).await;
    });
    Ok(())
}

/// Sets a new password from a reset link: uses the link up, ends every session, lifts a suspension.
pub async fn complete_reset(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &SecretString,
) -> Result<(), AppError> {
    let PasswordFromLink { subject, mut tx, now } =
        set_password_from_link(state, Purpose::Reset, token, password).await?;
    sqlx::query("UPDATE accounts SET mfa_consecutive_failures = 0, mfa_window_failures = 0 WHERE id = $1")
        .bind(subject.account_id.as_str())
        .execute(&mut *tx)
        .await?;
    // Lifts the sign-in throttling and the password suspension of every device and IP.
    super::throttle::clear(state, &mut tx, &email_key(&subject.email)).await?;
    // Other reset links of the account die with this one.
    sqlx::query(
        "UPDATE account_tokens SET used_at = $1 WHERE account_id = $2 AND purpose = 'reset' AND used_at IS NULL",
    )
    .bind(now)
    .bind(subject.account_id.as_str())
    .execute(&mut *tx)
    .await?;
    let ended = super::sessions::end_account_sessions(&mut tx, &subject.account_id, None).await?;
    let detail = format!("{ended} session(s) ended");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&subject.tenant_id),
            account_id: Some(&subject.account_id),
            actor: &subject.email,
            action: "password.reset",
            outcome: Outcome::Success,
            meta,
            detail: &detail,
            key_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    notify::send(state, &Notice::PasswordReset, &subject.email, &subject.tenant_name, meta).await;
    Ok(())
}
