//! The audit trail: every sign-in, failure, sign-out, link use and password change, written in the same
//! transaction as the change it records. Never stores a password, token or code; an email that matches no
//! account is stored masked (ASVS V7.1.1: no sensitive data in logs).

use super::context::TenantCtx;
use super::ids::{new_event_id, AccountId, TenantId};
use super::request::RequestMeta;
use crate::model::{AppError, AuditEventView};
use sqlx::{AnyConnection, AnyPool, Row as _};

/// Outcome of an audited act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// One event to append.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub tenant_id: Option<&'a TenantId>,
    pub account_id: Option<&'a AccountId>,
    pub actor: &'a str,
    pub action: &'a str,
    pub outcome: Outcome,
    pub meta: &'a RequestMeta,
    pub detail: &'a str,
}

impl<'a> NewEvent<'a> {
    /// An act of the signed-in actor of `ctx`, in its tenant.
    pub fn by(ctx: &'a TenantCtx, meta: &'a RequestMeta, action: &'a str, outcome: Outcome, detail: &'a str) -> Self {
        Self {
            tenant_id: Some(&ctx.tenant_id),
            account_id: Some(&ctx.account_id),
            actor: &ctx.email,
            action,
            outcome,
            meta,
            detail,
        }
    }
}

/// Appends an event, on the caller's connection or transaction.
pub async fn record(conn: &mut AnyConnection, now_ms: i64, ev: &NewEvent<'_>) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_events (id, tenant_id, account_id, actor, action, outcome, ip, user_agent, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_event_id())
    .bind(ev.tenant_id.map(|t| t.0.clone()))
    .bind(ev.account_id.map(|a| a.0.clone()))
    .bind(ev.actor)
    .bind(ev.action)
    .bind(ev.outcome.as_str())
    .bind(&ev.meta.ip)
    .bind(&ev.meta.user_agent)
    .bind(ev.detail)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's newest events, newest first.
pub async fn list_latest(
    pool: &AnyPool,
    ctx: &TenantCtx,
    _granted: &super::context::Granted,
    limit: i64,
) -> Result<Vec<AuditEventView>, AppError> {
    let rows = sqlx::query(
        "SELECT id, created_at, action, outcome, actor, ip, user_agent FROM audit_events \
         WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(ctx.tenant_id.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEventView {
                id: r.try_get("id")?,
                at: r.try_get("created_at")?,
                action: r.try_get("action")?,
                outcome: r.try_get("outcome")?,
                actor: r.try_get("actor")?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Masks an email that matched no account: keeps the first character of the local part and of the domain,
/// and the top-level domain, so an admin can recognise a typo without the log holding someone's address.
pub fn mask_email(email: &str) -> String {
    let email = email.trim();
    let (local, domain) = email.split_once('@').unwrap_or((email, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let tld = domain.rsplit_once('.').map(|(_, t)| t).unwrap_or("");
    let tld: String = tld.chars().take(10).collect();
    if domain.is_empty() {
        format!("{}***", first(local))
    } else {
        format!("{}***@{}***.{}", first(local), first(domain), tld)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_little() {
        assert_eq!(mask_email("alice.smith@example.com"), "a***@e***.com");
        assert_eq!(mask_email("nobody"), "n***");
        assert!(!mask_email("secret-person@corp.io").contains("secret"));
    }
}
