//! Erasing a member's personal data from a tenant (GDPR art. 17, the right to erasure).
//!
//! Policy (what "personal data" means here):
//! - Accounts are global, memberships and everything recorded about a member are per tenant. Erasure is an act
//!   of ONE tenant's admins about their member: it removes the membership and anonymises what THIS tenant holds
//!   about the person. When the account belongs to no other tenant it is deleted with everything attached to
//!   the account itself (password hash, authenticator, recovery codes, device and IP records, links, sign-in
//!   counters); when it still belongs to another tenant, its login and account-level records stay for that
//!   tenant: they are that tenant's relationship with the person, not this one's.
//! - In this tenant: the membership is removed, its sessions end, its API keys are revoked (their metadata
//!   stays, usage IPs and user agents go, labels and descriptions lose the email), invitations to the email and
//!   alerts addressed to it are deleted, and any text the tenant holds that names the email (who created a key,
//!   an IP block or a vault object, alert bodies, event details) names the pseudonym instead.
//! - The access history keeps what happened and when, under a stable pseudonym `erased-<12 hex>` (HMAC of the
//!   tenant and account ids under a server-derived key: the same for all their events, different per tenant,
//!   not reversible): the member's own events lose actor, account id, IP and user agent, their keys' requests
//!   lose IP and user agent, and other events' details name the pseudonym. The chain is then re-sealed from
//!   the first rewritten event (`audit::reseal`), in the same transaction, and one `member.erased` event records
//!   the pseudonym, the count, the re-sealed range and the old head MAC.
//! - Who: owners and admins, after a step-up; nobody erases themselves; an owner cannot be erased (demote them
//!   first: the last owner therefore never can be); admins erase admins, members and auditors, as they remove
//!   them. A member who is deactivated (offboarded) or active alike: erasure removes the membership too.
//! - Re-sealing never launders tampering: a chain that does not verify is not erased (fix that first).

use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, reseal, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::ids::{AccountId, MembershipId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, Role};
use sqlx::{AnyConnection, Row as _};

/// Tenant-scoped text columns that may name a member (who created or deleted something, alert texts). Each
/// table has a `tenant_id` column; the email is replaced by the pseudonym in place.
const NAMING_COLUMNS: &[(&str, &str)] = &[
    ("invitations", "invited_by"),
    ("api_keys", "label"),
    ("api_keys", "description"),
    ("api_keys", "created_by"),
    ("ip_blocks", "created_by"),
    ("ip_blocks", "reason"),
    ("pending_alerts", "summary"),
    ("pending_alerts", "body"),
    ("vault_objects", "deleted_by"),
    ("vault_versions", "created_by"),
    ("vault_links", "created_by"),
    ("data_exports", "requested_by"),
    ("vault_folders", "created_by"),
    ("sftp_sessions", "actor"),
    ("webhook_endpoints", "created_by"),
    ("webhook_endpoints", "description"),
    ("webhook_endpoints", "disabled_reason"),
    ("support_requests", "decided_by"),
    ("approvals", "summary"),
    ("approvals", "reason"),
    ("approvals", "requested_by"),
    ("approvals", "decided_by"),
    ("approvals", "outcome"),
    ("machine_tokens", "created_by"),
    ("machines", "created_by"),
    ("machines", "revoked_by"),
];

/// What an erasure did (also written to the `member.erased` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    pub pseudonym: String,
    pub events_rewritten: u64,
    pub resealed: reseal::Resealed,
    pub account_deleted: bool,
}

/// The person behind a membership of the caller's tenant.
struct Subject {
    account: AccountId,
    email: String,
    role: Role,
}

/// Erases a member of the caller's tenant (removing the membership in the same act); `confirm` must be the
/// word ERASE (checked after the member is found, so another tenant's member is simply not found).
#[allow(clippy::too_many_arguments)]
pub async fn erase_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    cleared: &crate::backend::access::four_eyes::Cleared,
    membership: &MembershipId,
    confirm: &str,
) -> Result<Erased, AppError> {
    cleared.covers(&crate::backend::access::four_eyes::Act::EraseMember {
        membership_id: membership.as_str().to_owned(),
    })?;
    let tenant = ctx.tenant_id().as_str();
    {
        let mut conn = state.pool.acquire().await?;
        subject(&mut conn, ctx, membership).await?;
    }
    if confirm.trim() != "ERASE" {
        return Err(AppError::validation("confirm", "Type ERASE to confirm."));
    }
    let report = audit::verify::verify_chain(&state.pool, &state.keys, &state.anchors, tenant).await?;
    if !report.ok {
        return Err(AppError::Conflict {
            msg: "The access history fails verification; erasing now would re-seal over that. Run the integrity \
                  check and resolve it first."
                .into(),
        });
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    // The role lock before the chain head's, in the order every role change takes them.
    crate::backend::access::four_eyes::lock_roles(&mut tx, ctx.tenant_id()).await?;
    let head = reseal::lock_head(&mut tx, tenant, now).await?;
    let s = subject(&mut tx, ctx, membership).await?;
    if membership == ctx.membership_id() {
        return Err(AppError::Conflict { msg: "You cannot erase yourself.".into() });
    }
    crate::backend::access::four_eyes::keeps_two_admins(&mut tx, ctx.tenant_id(), membership.as_str()).await?;
    if s.role == Role::Owner {
        return Err(AppError::Conflict {
            msg: "An owner cannot be erased. Make them an admin or member first (the last owner never can be).".into(),
        });
    }
    let pseudonym = state.keys.erasure_pseudonym(tenant, s.account.as_str());
    let email_key = crate::backend::identity::accounts::email_key(&s.email);
    let elsewhere: i64 = sqlx::query("SELECT COUNT(*) AS n FROM memberships WHERE account_id = $1 AND tenant_id <> $2")
        .bind(s.account.as_str())
        .bind(tenant)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;

    // Keys: revoked, their usage records gone, their texts anonymised below.
    let keys_revoked = crate::backend::keys::revoke_member_keys(&mut tx, ctx.tenant_id(), membership, now).await?;
    super::doors::close_made_by(&mut tx, ctx.tenant_id(), membership, now).await?;
    sqlx::query(
        "DELETE FROM api_key_usage WHERE key_id IN (SELECT id FROM api_keys WHERE tenant_id = $1 \
         AND owner_membership_id = $2)",
    )
    .bind(tenant)
    .bind(membership.as_str())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE api_keys SET last_used_ip = NULL, last_used_ua = NULL WHERE tenant_id = $1 \
         AND owner_membership_id = $2",
    )
    .bind(tenant)
    .bind(membership.as_str())
    .execute(&mut *tx)
    .await?;
    let sessions = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND tenant_id = $2")
        .bind(s.account.as_str())
        .bind(tenant)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    for table in ["invitations", "pending_alerts", "alert_windows"] {
        let column = if table == "invitations" { "email_key" } else { "recipient_key" };
        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2"))
            .bind(tenant)
            .bind(&email_key)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE tenants SET security_contact = '' WHERE id = $1 AND LOWER(security_contact) = $2")
        .bind(tenant)
        .bind(&email_key)
        .execute(&mut *tx)
        .await?;
    for (table, column) in NAMING_COLUMNS {
        sqlx::query(&format!(
            "UPDATE {table} SET {column} = REPLACE(REPLACE({column}, $2, $4), $3, $4) WHERE tenant_id = $1 \
             AND {column} IS NOT NULL AND {column} <> REPLACE(REPLACE({column}, $2, $4), $3, $4)"
        ))
        .bind(tenant)
        .bind(&s.email)
        .bind(&email_key)
        .bind(&pseudonym)
        .execute(&mut *tx)
        .await?;
    }
    let (rewritten, first_seq) = rewrite_events(&mut tx, tenant, membership, &s, &email_key, &pseudonym).await?;
    sqlx::query("DELETE FROM account_tokens WHERE account_id = $1 AND tenant_id = $2")
        .bind(s.account.as_str())
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    let tenant_id = crate::backend::platform::ids::TenantId(tenant.to_owned());
    crate::backend::ssh::forget_member(&mut tx, &tenant_id, membership.as_str()).await?;
    sqlx::query("DELETE FROM memberships WHERE id = $1 AND tenant_id = $2")
        .bind(membership.as_str())
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    let account_deleted = elsewhere == 0;
    if account_deleted {
        delete_account(&mut tx, state, &s.account, &email_key).await?;
    }
    let resealed = match first_seq {
        Some(seq) => reseal::reseal(&mut tx, &state.keys, &head, seq).await?,
        None => reseal::Resealed {
            from: head.seq + 1,
            to: head.seq,
            events: 0,
            old_head_mac: head.mac.clone(),
            new_head_mac: head.mac.clone(),
        },
    };
    let detail = format!(
        "member erased as {pseudonym}: {rewritten} event(s) rewritten; chain re-sealed #{} to #{} ({} event(s)), \
         head MAC before: {}; membership removed, {sessions} session(s) ended, {keys_revoked} API key(s) revoked; \
         account {}",
        resealed.from,
        resealed.to,
        resealed.events,
        resealed.old_head_mac,
        if account_deleted { "deleted" } else { "kept for its other organisations" },
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "member.erased", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    tracing::info!(tenant = %ctx.tenant_id(), %pseudonym, rewritten, "member erased");
    Ok(Erased { pseudonym, events_rewritten: rewritten, resealed, account_deleted })
}

/// Refuses (404) a membership that is not the organisation's, or that the actor has no authority over.
pub async fn check_subject(state: &AppState, ctx: &TenantCtx, membership: &MembershipId) -> Result<(), AppError> {
    let mut conn = state.pool.acquire().await?;
    subject(&mut conn, ctx, membership).await.map(|_| ())
}

async fn subject(conn: &mut AnyConnection, ctx: &TenantCtx, membership: &MembershipId) -> Result<Subject, AppError> {
    if membership.as_str().len() > 64 {
        return Err(AppError::NotFound);
    }
    let row = sqlx::query(
        "SELECT a.id, a.email, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.id = $1 AND m.tenant_id = $2",
    )
    .bind(membership.as_str())
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let role: String = row.try_get("role")?;
    Ok(Subject {
        account: AccountId(row.try_get("id")?),
        email: row.try_get("email")?,
        role: Role::parse(&role).unwrap_or(Role::Auditor),
    })
}

/// Rewrites the tenant's events that name the member; returns how many and the lowest `seq` touched.
async fn rewrite_events(
    conn: &mut AnyConnection,
    tenant: &str,
    membership: &MembershipId,
    s: &Subject,
    email_key: &str,
    pseudonym: &str,
) -> Result<(u64, Option<i64>), AppError> {
    let account = s.account.as_str();
    let like = |v: &str| format!("%{v}%");
    // The member's own events, their keys' requests, and any event whose detail names them.
    let stats = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(seq) AS first FROM audit_events WHERE tenant_id = $1 AND (account_id = $2 \
         OR actor = $3 OR LOWER(actor) = $4 OR key_id IN (SELECT id FROM api_keys WHERE tenant_id = $1 \
         AND owner_membership_id = $5) OR detail LIKE $6 OR LOWER(detail) LIKE $7 OR detail LIKE $8)",
    )
    .bind(tenant)
    .bind(account)
    .bind(&s.email)
    .bind(email_key)
    .bind(membership.as_str())
    .bind(like(&s.email))
    .bind(like(email_key))
    .bind(like(account))
    .fetch_one(&mut *conn)
    .await?;
    let n: i64 = stats.try_get("n")?;
    let first: Option<i64> = stats.try_get("first")?;
    if n == 0 {
        return Ok((0, None));
    }
    sqlx::query(
        "UPDATE audit_events SET detail = REPLACE(REPLACE(REPLACE(detail, $2, $5), $3, $5), $4, $5) \
         WHERE tenant_id = $1 AND (detail LIKE $6 OR LOWER(detail) LIKE $7 OR detail LIKE $8)",
    )
    .bind(tenant)
    .bind(&s.email)
    .bind(email_key)
    .bind(account)
    .bind(pseudonym)
    .bind(like(&s.email))
    .bind(like(email_key))
    .bind(like(account))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE audit_events SET ip = '', user_agent = '', ip_key = NULL WHERE tenant_id = $1 \
         AND key_id IN (SELECT id FROM api_keys WHERE tenant_id = $1 AND owner_membership_id = $2)",
    )
    .bind(tenant)
    .bind(membership.as_str())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE audit_events SET actor = $5, account_id = NULL, ip = '', user_agent = '', ip_key = NULL \
         WHERE tenant_id = $1 AND (account_id = $2 OR actor = $3 OR LOWER(actor) = $4)",
    )
    .bind(tenant)
    .bind(account)
    .bind(&s.email)
    .bind(email_key)
    .bind(pseudonym)
    .execute(&mut *conn)
    .await?;
    Ok((u64::try_from(n).unwrap_or(0), first))
}

/// Account-level tables: every row of an account, deleted with it (`account_id` column). Children first.
pub const ACCOUNT_TABLES: &[&str] =
    &["totp_factors", "recovery_codes", "known_devices", "known_sign_in_ips", "account_tokens", "sessions"];

/// Deletes an account that belongs to no tenant any more, with everything attached to it: its rows in
/// `ACCOUNT_TABLES`, its sign-in counters (keyed by an HMAC of the email) and the account row.
pub async fn delete_account(
    conn: &mut AnyConnection,
    state: &AppState,
    account: &AccountId,
    email_key: &str,
) -> Result<(), AppError> {
    for table in ACCOUNT_TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE account_id = $1"))
            .bind(account.as_str())
            .execute(&mut *conn)
            .await?;
    }
    crate::backend::identity::throttle::clear(state, conn, email_key).await?;
    sqlx::query("DELETE FROM accounts WHERE id = $1").bind(account.as_str()).execute(&mut *conn).await?;
    Ok(())
}
