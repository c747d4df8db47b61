//! The audit trail: every sign-in, failure, sign-out, link use and password change, written in the same
//! transaction as the change it records. Never stores a password, token or code; an email that matches no
//! account is stored masked (ASVS V7.1.1: no sensitive data in logs).

pub mod anchor;
pub mod api_log;
pub mod chain;
pub mod export;
pub mod history;
pub mod query;
pub mod reseal;
pub mod retention;
pub mod verify;

pub use query::{list_latest, list_page, EventFilter, MAX_PAGE};

use crate::backend::access::TenantCtx;
use crate::backend::platform::crypto::ServerKeys;
use crate::backend::platform::ids::{new_event_id, AccountId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::model::AppError;
use sqlx::AnyConnection;

/// Outcome of an audited act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
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
    /// The API key that acted or was presented, if any.
    pub key_id: Option<&'a str>,
}

impl<'a> NewEvent<'a> {
    /// An act of the signed-in actor of `ctx`, in its tenant.
    pub fn by(ctx: &'a TenantCtx, meta: &'a RequestMeta, action: &'a str, outcome: Outcome, detail: &'a str) -> Self {
        Self {
            tenant_id: Some(ctx.tenant_id()),
            account_id: Some(ctx.account_id()),
            actor: ctx.actor(),
            action,
            outcome,
            meta,
            detail,
            key_id: ctx.api_key(),
        }
    }

    /// Names the key the act concerns (when the actor is a person; a key actor stays the key that acted).
    pub fn with_key(mut self, key_id: &'a str) -> Self {
        if self.key_id.is_none() {
            self.key_id = Some(key_id);
        }
        self
    }
}

/// Appends an event of `tenant` whose actor is no signed-in account (a machine, a background job), on the
/// caller's connection or transaction.
#[allow(clippy::too_many_arguments)]
pub async fn record_as(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    now_ms: i64,
    tenant: &TenantId,
    actor: &str,
    meta: &RequestMeta,
    (action, outcome): (&str, Outcome),
    detail: &str,
) -> Result<(), AppError> {
    let ev = NewEvent { tenant_id: Some(tenant), account_id: None, actor, action, outcome, meta, detail, key_id: None };
    record(conn, keys, now_ms, &ev).await
}

/// Appends an event to its tenant's chain, on the caller's connection or transaction (inside a savepoint, so a
/// plain connection gets a transaction of its own and the chain stays linear).
pub async fn record(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    now_ms: i64,
    ev: &NewEvent<'_>,
) -> Result<(), AppError> {
    use sqlx::Connection as _;
    let row = chain::EventRow {
        id: new_event_id(),
        tenant_id: ev.tenant_id.map(|t| t.0.clone()),
        account_id: ev.account_id.map(|a| a.0.clone()),
        actor: ev.actor.to_owned(),
        action: ev.action.to_owned(),
        outcome: ev.outcome.as_str().to_owned(),
        ip: ev.meta.ip.clone(),
        user_agent: ev.meta.user_agent.clone(),
        detail: ev.detail.to_owned(),
        created_at: now_ms,
        key_id: ev.key_id.map(str::to_owned),
    };
    let mut tx = conn.begin().await?;
    chain::append(&mut tx, keys, now_ms, std::slice::from_ref(&row)).await?;
    tx.commit().await?;
    Ok(())
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
