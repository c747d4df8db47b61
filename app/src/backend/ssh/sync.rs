//! The GitHub sync: one link at a time (`sync_link`), the due ones by the server's job (`sync_due`, one
//! instance at a time). What GitHub says is applied in one transaction with its events.

use super::github::{self, Fetched};
use super::keys::{self, KeyPolicy};
use super::{policy_of, record, tell_member};
use crate::backend::platform::db::begin_write;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    pub added: usize,
    pub revoked: usize,
    pub disabled: usize,
    /// GitHub could not be asked (the last known keys stay, marked stale).
    pub error: Option<String>,
}

/// The links whose time has come; returns how many were synced.
pub async fn sync_due(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now_ms();
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT membership_id FROM ssh_github_links WHERE next_sync_at <= $1 ORDER BY next_sync_at LIMIT 200",
    )
    .bind(now)
    .fetch_all(&state.pool)
    .await?;
    for membership in &due {
        sync_link(state, membership).await?;
    }
    Ok(due.len())
}

/// The sync's own request facts (no client).
fn system_meta() -> RequestMeta {
    RequestMeta { ip: "-".to_owned(), user_agent: "rampart ssh key sync".to_owned() }
}

/// Syncs the GitHub link of one membership now.
pub async fn sync_link(state: &AppState, membership: &str) -> Result<Synced, AppError> {
    let link = sqlx::query(
        "SELECT l.tenant_id, l.github_user, l.github_user_id, l.etag, l.last_success_at, l.stale_noted, a.email, \
         t.name AS tenant_name FROM ssh_github_links l JOIN memberships m ON m.id = l.membership_id \
         JOIN accounts a ON a.id = m.account_id JOIN tenants t ON t.id = l.tenant_id WHERE l.membership_id = $1",
    )
    .bind(membership)
    .fetch_optional(&state.pool)
    .await?;
    let Some(link) = link else { return Ok(Synced::default()) };
    let tenant = TenantId(link.try_get("tenant_id")?);
    let user: String = link.try_get("github_user")?;
    let known_id: Option<i64> = link.try_get("github_user_id")?;
    let etag: Option<String> = link.try_get("etag")?;
    let last_success: Option<i64> = link.try_get("last_success_at")?;
    let stale_noted: i64 = link.try_get("stale_noted")?;
    let email: String = link.try_get("email")?;
    let tenant_name: String = link.try_get("tenant_name")?;
    let fetched = match github::fetch(&state.ssh.github, &user, etag.as_deref()).await {
        // The account behind the name is known: a list GitHub's API did not confirm is of an account not checked
        // (the API has an hourly limit; the `.keys` files have none). Applied, it would let whoever took the name
        // over in the meantime bring a key in, and the ETag stored with it would keep it through every 304.
        Ok(Fetched::Keys { user_id: None, .. }) if known_id.is_some() => {
            Err(github::FetchError("GitHub's API did not confirm which account the name belongs to".to_owned()))
        }
        other => other,
    };

    let now = state.clock.now_ms();
    let every = state.ssh.sync_every_ms.max(1_000);
    let next = now + every + i64::from(rand::random::<u16>()) % (every / 5).max(1);
    let meta = system_meta();
    let mut tx = begin_write(&state.pool).await?;
    let mut out = Synced::default();
    let at = Times { now, next };
    match fetched {
        Ok(Fetched::Unchanged) => {
            mark_success(&mut tx, membership, etag.clone(), None, None, at).await?;
            sqlx::query("UPDATE ssh_keys SET last_synced_at = $1 WHERE membership_id = $2 AND source = 'github' AND state <> 'revoked'")
                .bind(now)
                .bind(membership)
                .execute(&mut *tx)
                .await?;
        }
        Ok(Fetched::NoUser) => {
            out.revoked =
                revoke_all(&mut tx, state, &tenant, membership, &meta, &format!("GitHub user {user} not found"))
                    .await?;
            mark_success(&mut tx, membership, None, None, Some("GitHub has no user of this name"), at).await?;
        }
        Ok(Fetched::Keys { user_id, .. }) if known_id.is_some() && user_id.is_some() && user_id != known_id => {
            let why = format!("the GitHub name {user} now belongs to another account");
            out.revoked = revoke_all(&mut tx, state, &tenant, membership, &meta, &why).await?;
            sqlx::query("UPDATE ssh_github_links SET last_attempt_at = $1, last_error = $2, next_sync_at = $3 WHERE membership_id = $4")
                .bind(now)
                .bind(format!("{why}: relink it to trust it again"))
                .bind(next)
                .bind(membership)
                .execute(&mut *tx)
                .await?;
        }
        Ok(Fetched::Keys { lines, user_id, etag: new_etag }) => {
            let policy = policy_of(&mut tx, &tenant).await?;
            let ctx = Apply {
                state,
                tenant: &tenant,
                tenant_name: &tenant_name,
                membership,
                email: &email,
                meta: &meta,
                now,
            };
            out = apply(&mut tx, &ctx, &user, policy, &lines).await?;
            mark_success(&mut tx, membership, new_etag, user_id, None, at).await?;
        }
        Err(e) => {
            out.error = Some(e.0.clone());
            sqlx::query("UPDATE ssh_github_links SET last_attempt_at = $1, last_error = $2, next_sync_at = $3 WHERE membership_id = $4")
                .bind(now)
                .bind(&e.0)
                .bind(next)
                .bind(membership)
                .execute(&mut *tx)
                .await?;
            let stale = last_success.is_none_or(|t| now - t > state.ssh.stale_after_ms);
            if stale && stale_noted == 0 {
                sqlx::query("UPDATE ssh_github_links SET stale_noted = 1 WHERE membership_id = $1")
                    .bind(membership)
                    .execute(&mut *tx)
                    .await?;
                let detail = format!(
                    "GitHub could not be asked for {user}'s keys ({}): they stop working until a sync succeeds",
                    e.0
                );
                record(&mut tx, state, &tenant, "rampart", &meta, "ssh_key.stale", &detail).await?;
            }
        }
    }
    tx.commit().await?;
    if out.added > 0 {
        crate::backend::alerts::spawn_delivery(state);
    }
    if out.revoked + out.disabled > 0 {
        state.access_changed();
    }
    Ok(out)
}

#[derive(Clone, Copy)]
struct Times {
    now: i64,
    next: i64,
}

/// Notes a sync that GitHub answered.
async fn mark_success(
    tx: &mut AnyConnection,
    membership: &str,
    etag: Option<String>,
    user_id: Option<i64>,
    error: Option<&str>,
    at: Times,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE ssh_github_links SET etag = $1, github_user_id = COALESCE($2, github_user_id), last_attempt_at = $3, \
         last_success_at = $3, last_error = $4, stale_noted = 0, next_sync_at = $5 WHERE membership_id = $6",
    )
    .bind(etag)
    .bind(user_id)
    .bind(at.now)
    .bind(error.map(str::to_owned))
    .bind(at.next)
    .bind(membership)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

struct Apply<'a> {
    state: &'a AppState,
    tenant: &'a TenantId,
    tenant_name: &'a str,
    membership: &'a str,
    email: &'a str,
    meta: &'a RequestMeta,
    now: i64,
}

/// Makes the member's GitHub keys what GitHub listed.
async fn apply(
    tx: &mut AnyConnection,
    c: &Apply<'_>,
    user: &str,
    policy: KeyPolicy,
    lines: &[(String, Option<i64>)],
) -> Result<Synced, AppError> {
    let mut out = Synced::default();
    let existing: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, fingerprint, state FROM ssh_keys WHERE membership_id = $1 AND source = 'github'")
            .bind(c.membership)
            .fetch_all(&mut *tx)
            .await?;
    let mut listed = Vec::new();
    for (line, github_id) in lines {
        let Ok(key) = keys::parse(line) else { continue };
        listed.push(key.fingerprint.clone());
        let verdict = policy.check(&key);
        match existing.iter().find(|(_, fp, _)| *fp == key.fingerprint) {
            Some((id, _, state)) => {
                sqlx::query("UPDATE ssh_keys SET last_synced_at = $1, github_key_id = COALESCE($2, github_key_id) WHERE id = $3")
                    .bind(c.now)
                    .bind(*github_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                if state == "revoked" {
                    // Added again on GitHub: a new key as far as the member is concerned.
                    let (new_state, reason) = match &verdict {
                        Ok(()) => ("active", None),
                        Err(r) => ("disabled", Some(r.clone())),
                    };
                    sqlx::query("UPDATE ssh_keys SET state = $1, state_reason = $2 WHERE id = $3")
                        .bind(new_state)
                        .bind(reason)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    added(tx, c, &key, user).await?;
                    out.added += 1;
                }
            }
            None => {
                let (new_state, reason) = match &verdict {
                    Ok(()) => ("active", None),
                    Err(r) => ("disabled", Some(r.clone())),
                };
                let inserted = sqlx::query(
                    "INSERT INTO ssh_keys (id, tenant_id, membership_id, source, github_key_id, key_type, bits, fingerprint, \
                     public_key, comment, state, state_reason, first_seen_at, last_synced_at) \
                     VALUES ($1, $2, $3, 'github', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
                     ON CONFLICT (membership_id, fingerprint) DO NOTHING",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(c.tenant.as_str())
                .bind(c.membership)
                .bind(*github_id)
                .bind(key.key_type.name())
                .bind(i64::from(key.bits))
                .bind(&key.fingerprint)
                .bind(key.openssh())
                .bind(&key.comment)
                .bind(new_state)
                .bind(reason.clone())
                .bind(c.now)
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    added(tx, c, &key, user).await?;
                    out.added += 1;
                    if let Some(r) = reason {
                        let detail = format!("{} of {}: {r}", key.fingerprint, c.email);
                        record(tx, c.state, c.tenant, "rampart", c.meta, "ssh_key.disabled", &detail).await?;
                        out.disabled += 1;
                    }
                }
            }
        }
    }
    for (id, fp, state) in &existing {
        if state != "revoked" && !listed.contains(fp) {
            sqlx::query("UPDATE ssh_keys SET state = 'revoked', state_reason = $1 WHERE id = $2")
                .bind(format!("removed from GitHub user {user}"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let detail = format!("{fp} of {}: no longer on GitHub user {user}", c.email);
            record(tx, c.state, c.tenant, "rampart", c.meta, "ssh_key.revoked_upstream", &detail).await?;
            out.revoked += 1;
        }
    }
    Ok(out)
}

async fn added(tx: &mut AnyConnection, c: &Apply<'_>, key: &keys::PublicKey, user: &str) -> Result<(), AppError> {
    let detail = format!(
        "{} {} ({} bits) of {}, from GitHub user {user}",
        key.key_type.name(),
        key.fingerprint,
        key.bits,
        c.email
    );
    record(tx, c.state, c.tenant, "rampart", c.meta, "ssh_key.added", &detail).await?;
    tell_member(tx, c.state, c.tenant, c.tenant_name, c.email, key, &format!("from GitHub user {user}")).await
}

/// Revokes every GitHub key of a link; returns how many.
async fn revoke_all(
    tx: &mut AnyConnection,
    state: &AppState,
    tenant: &TenantId,
    membership: &str,
    meta: &RequestMeta,
    why: &str,
) -> Result<usize, AppError> {
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT fingerprint FROM ssh_keys WHERE membership_id = $1 AND source = 'github' AND state <> 'revoked'",
    )
    .bind(membership)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("UPDATE ssh_keys SET state = 'revoked', state_reason = $1 WHERE membership_id = $2 AND source = 'github' AND state <> 'revoked'")
        .bind(why)
        .bind(membership)
        .execute(&mut *tx)
        .await?;
    for fp in &live {
        record(tx, state, tenant, "rampart", meta, "ssh_key.revoked_upstream", &format!("{fp}: {why}")).await?;
    }
    Ok(live.len())
}

/// Whether a stored key may be used now: active, and (for a GitHub key) its link's last good sync is within the
/// stale limit.
pub async fn usable(state: &AppState, key_id: &str) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT k.state, k.source, l.last_success_at FROM ssh_keys k \
         LEFT JOIN ssh_github_links l ON l.membership_id = k.membership_id WHERE k.id = $1",
    )
    .bind(key_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let key_state: String = row.try_get("state")?;
    let source: String = row.try_get("source")?;
    let last: Option<i64> = row.try_get("last_success_at")?;
    let fresh = source != "github" || last.is_some_and(|t| state.clock.now_ms() - t <= state.ssh.stale_after_ms);
    Ok(key_state == "active" && fresh)
}
