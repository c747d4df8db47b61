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
            tenant_id: Some(&ctx.tenant_id),
            account_id: Some(&ctx.account_id),
            actor: &ctx.email,
            action,
            outcome,
            meta,
            detail,
            key_id: ctx.api_key.as_deref(),
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

/// Appends an event, on the caller's connection or transaction.
pub async fn record(conn: &mut AnyConnection, now_ms: i64, ev: &NewEvent<'_>) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO audit_events \
         (id, tenant_id, account_id, actor, action, outcome, ip, user_agent, detail, created_at, key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
    .bind(ev.key_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's newest events, newest first.
pub async fn list_latest(
    pool: &AnyPool,
    ctx: &TenantCtx,
    granted: &super::context::Granted,
    limit: i64,
) -> Result<Vec<AuditEventView>, AppError> {
    Ok(list_page(pool, ctx, granted, &EventFilter::default(), limit).await?.0)
}

/// Which events to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub key_id: Option<String>,
    pub ip: Option<String>,
    /// Epoch ms, inclusive.
    pub since: Option<i64>,
    /// Epoch ms, exclusive.
    pub until: Option<i64>,
    /// Continue after this event (the `next_cursor` of the previous page).
    pub cursor: Option<String>,
}

/// Longest page.
pub const MAX_PAGE: i64 = 500;

/// One page of the tenant's events, newest first, and the cursor of the next page (keyset pagination on
/// `(created_at, id)`, which the `(tenant_id, created_at, id)` index serves without an offset scan).
pub async fn list_page(
    pool: &AnyPool,
    ctx: &TenantCtx,
    _granted: &super::context::Granted,
    filter: &EventFilter,
    limit: i64,
) -> Result<(Vec<AuditEventView>, Option<String>), AppError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::validation("limit", format!("A page holds 1 to {MAX_PAGE} events.")));
    }
    let cursor = match filter.cursor.as_deref() {
        Some(c) => Some(parse_cursor(c).ok_or_else(|| AppError::validation("cursor", "This cursor is not valid."))?),
        None => None,
    };
    let mut sql = String::from(
        "SELECT id, created_at, action, outcome, actor, ip, user_agent, detail, key_id FROM audit_events \
         WHERE tenant_id = $1",
    );
    let mut binds: Vec<Bind> = vec![Bind::Text(ctx.tenant_id.as_str().to_owned())];
    let mut push = |clause: &str, b: Bind| {
        binds.push(b);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(a) = &filter.action {
        push(" AND action = ?", Bind::Text(a.clone()));
    }
    if let Some(o) = &filter.outcome {
        push(" AND outcome = ?", Bind::Text(o.clone()));
    }
    if let Some(k) = &filter.key_id {
        push(" AND key_id = ?", Bind::Text(k.clone()));
    }
    if let Some(ip) = &filter.ip {
        push(" AND ip = ?", Bind::Text(ip.clone()));
    }
    if let Some(t) = filter.since {
        push(" AND created_at >= ?", Bind::Int(t));
    }
    if let Some(t) = filter.until {
        push(" AND created_at < ?", Bind::Int(t));
    }
    if let Some((at, id)) = cursor {
        push(" AND (created_at < ?", Bind::Int(at));
        push(" OR (created_at = ?", Bind::Int(at));
        push(" AND id < ?))", Bind::Text(id));
    }
    push(" ORDER BY created_at DESC, id DESC LIMIT ?", Bind::Int(limit + 1));
    let mut q = sqlx::query(&sql);
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(pool).await?;
    let mut events = rows
        .iter()
        .map(|r| {
            Ok(AuditEventView {
                id: r.try_get("id")?,
                at: r.try_get("created_at")?,
                action: r.try_get("action")?,
                outcome: r.try_get("outcome")?,
                actor: r.try_get("actor")?,
                ip: r.try_get("ip")?,
                user_agent: r.try_get("user_agent")?,
                detail: r.try_get("detail")?,
                key_id: r.try_get("key_id")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let next = if events.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        events.pop();
        events.last().map(|e| format!("{}.{}", e.at, e.id))
    } else {
        None
    };
    Ok((events, next))
}

enum Bind {
    Text(String),
    Int(i64),
}

fn parse_cursor(c: &str) -> Option<(i64, String)> {
    let (at, id) = c.split_once('.')?;
    let ok_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok_id.then_some(())?;
    Some((at.parse().ok()?, id.to_owned()))
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
