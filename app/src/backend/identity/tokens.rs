//! Single-use links: setup (and later invitation and reset) tokens of 256 bits, stored as SHA-256, expiring,
//! consumed by a conditional UPDATE so two concurrent uses cannot both succeed.

use crate::backend::platform::clock::HOUR_MS;
use crate::backend::platform::crypto::{random_token, token_digest};
use crate::backend::platform::ids::{AccountId, TenantId};
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// What a token is for; each purpose has its own lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Set the first password of a new owner: 24 hours.
    Setup,
    /// Reset a forgotten password: 30 minutes.
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Setup => "setup",
            Self::Reset => "reset",
        }
    }

    fn ttl_ms(self) -> i64 {
        match self {
            Self::Setup => 24 * HOUR_MS,
            Self::Reset => 30 * crate::backend::platform::clock::MINUTE_MS,
        }
    }
}

/// A valid, unused token's subject.
#[derive(Debug, Clone)]
pub struct TokenSubject {
    pub account_id: AccountId,
    pub tenant_id: TenantId,
    pub email: String,
    pub tenant_name: String,
}

/// Issues a token; returns the secret for the link (shown once, never stored).
pub async fn issue(
    conn: &mut AnyConnection,
    now_ms: i64,
    purpose: Purpose,
    account_id: &AccountId,
    tenant_id: &TenantId,
) -> Result<String, AppError> {
    let token = random_token();
    sqlx::query(
        "INSERT INTO account_tokens (token_hash, purpose, account_id, tenant_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_digest(&token))
    .bind(purpose.as_str())
    .bind(account_id.as_str())
    .bind(tenant_id.as_str())
    .bind(now_ms)
    .bind(now_ms + purpose.ttl_ms())
    .execute(conn)
    .await?;
    Ok(token)
}

/// Looks a token up without using it: `NotFound` when unknown, used or expired (one answer for all three).
pub async fn peek(
    conn: &mut AnyConnection,
    now_ms: i64,
    purpose: Purpose,
    token: &str,
) -> Result<TokenSubject, AppError> {
    if token.len() > 128 {
        return Err(AppError::NotFound);
    }
    let row = sqlx::query(
        "SELECT t.account_id, t.tenant_id, a.email, n.name FROM account_tokens t \
         JOIN accounts a ON a.id = t.account_id JOIN tenants n ON n.id = t.tenant_id \
         WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3",
    )
    .bind(token_digest(token))
    .bind(purpose.as_str())
    .bind(now_ms)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(TokenSubject {
        account_id: AccountId(row.try_get("account_id").map_err(AppError::from)?),
        tenant_id: TenantId(row.try_get("tenant_id").map_err(AppError::from)?),
        email: row.try_get("email").map_err(AppError::from)?,
        tenant_name: row.try_get("name").map_err(AppError::from)?,
    })
}

/// Marks every unused link of `account` used, in the caller's transaction: whenever its password is set (from
/// a link, by a change, by accepting an invitation), a setup or reset link sent before cannot set it again.
pub async fn retire_all(conn: &mut AnyConnection, account: &AccountId, now_ms: i64) -> Result<u64, AppError> {
    let done = sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL")
        .bind(now_ms)
        .bind(account.as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Marks a token used; `NotFound` if it was used, expired or unknown in the meantime.
pub async fn consume(conn: &mut AnyConnection, now_ms: i64, purpose: Purpose, token: &str) -> Result<(), AppError> {
    let done = sqlx::query(
        "UPDATE account_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now_ms)
    .bind(token_digest(token))
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
