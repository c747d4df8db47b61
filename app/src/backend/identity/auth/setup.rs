//! Setting a password from a single-use link (setup, invitation or reset) and completing an owner's setup.

use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::password::{check_new_password, min_chars_for};
use crate::backend::identity::tokens::{self, Purpose};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, PasswordPolicyView, SetupInfo};
use secrecy::SecretString;

/// What a password page shows for a valid link of `purpose`; `NotFound` for an unknown, used or expired one.
pub async fn link_info(state: &AppState, purpose: Purpose, token: &str) -> Result<SetupInfo, AppError> {
    let mut conn = state.pool.acquire().await?;
    let subject = tokens::peek(&mut conn, state.clock.now_ms(), purpose, token).await?;
    let min_chars = min_chars_for(&mut conn, &subject.account_id).await?;
    Ok(SetupInfo {
        email: subject.email,
        tenant_name: subject.tenant_name,
        policy: PasswordPolicyView { min_chars, max_chars: crate::backend::identity::password::MAX_CHARS },
    })
}

/// A password set from a link, not yet committed: the caller adds its own effects and events to `tx`.
pub struct PasswordFromLink {
    pub subject: tokens::TokenSubject,
    pub tx: crate::backend::platform::db::WriteTx,
    pub now: i64,
}

/// Checks a new password against the rules of the link's account, hashes it, then in one transaction uses the
/// link up and stores the hash.
pub async fn set_password_from_link(
    state: &AppState,
    purpose: Purpose,
    token: &str,
    password: &SecretString,
) -> Result<PasswordFromLink, AppError> {
    use secrecy::ExposeSecret as _;
    let (subject, min_chars) = {
        let mut conn = state.pool.acquire().await?;
        let subject = tokens::peek(&mut conn, state.clock.now_ms(), purpose, token).await?;
        let min_chars = min_chars_for(&mut conn, &subject.account_id).await?;
        (subject, min_chars)
    };
    check_new_password(password.expose_secret(), min_chars, &subject.email, &subject.tenant_name)?;
    let hash = state.hasher.hash(password).await?;
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    tokens::consume(&mut tx, now, purpose, token).await?;
    sqlx::query("UPDATE accounts SET password_hash = $1, password_set_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now)
        .bind(subject.account_id.as_str())
        .execute(&mut *tx)
        .await?;
    // Every other setup or reset link of the account dies with this one.
    tokens::retire_all(&mut tx, &subject.account_id, now).await?;
    Ok(PasswordFromLink { subject, tx, now })
}

/// Sets the owner's first password from a setup link and uses the link up.
pub async fn complete_setup(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &SecretString,
) -> Result<(), AppError> {
    let PasswordFromLink { subject, mut tx, now } =
        set_password_from_link(state, Purpose::Setup, token, password).await?;
    for action in ["setup_link.use", "password.set"] {
        audit::record(
            &mut tx,
            &state.keys,
            now,
            &NewEvent {
                tenant_id: Some(&subject.tenant_id),
                account_id: Some(&subject.account_id),
                actor: &subject.email,
                action,
                outcome: Outcome::Success,
                meta,
                detail: "",
                key_id: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
