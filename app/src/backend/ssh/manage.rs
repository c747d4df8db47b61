//! The SSH keys page's acts: list, paste, remove, link and unlink a GitHub account (members holding the SSH
//! keys feature, about their own keys; owners and admins see and remove every member's), and the tenant's key
//! policy (owners and admins, stepped up): a key that breaks a newly raised rule is disabled, not deleted, and
//! its owner told.

use super::keys::{self, KeyPolicy};
use super::{github, policy_of, record, tell_member};
use crate::backend::access::{perm, AdminHandle, Granted, TenantCtx};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, GithubLinkView, SftpAccessView, SshCertView, SshKeyView, SshKeysView};
use sqlx::Row as _;

/// The member's keys (every member's for owners and admins) and their GitHub link.
pub async fn list(state: &AppState, ctx: &TenantCtx, _g: &Granted<perm::SshKeys>) -> Result<SshKeysView, AppError> {
    let all = ctx.require_admin().is_ok();
    let now = state.clock.now_ms();
    let rows = sqlx::query(
        "SELECT k.id, a.email, k.source, k.key_type, k.bits, k.fingerprint, k.comment, k.state, k.state_reason, \
         k.first_seen_at, k.last_synced_at, k.last_used_at, l.last_success_at FROM ssh_keys k \
         JOIN memberships m ON m.id = k.membership_id JOIN accounts a ON a.id = m.account_id \
         LEFT JOIN ssh_github_links l ON l.membership_id = k.membership_id \
         WHERE k.tenant_id = $1 AND ($2 = 1 OR k.membership_id = $3) ORDER BY a.email, k.first_seen_at",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(i64::from(all))
    .bind(ctx.membership_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        let source: String = r.try_get("source")?;
        let mut key_state: String = r.try_get("state")?;
        let last_success: Option<i64> = r.try_get("last_success_at")?;
        let mut usable_until = None;
        if source == "github" && key_state == "active" {
            let until = last_success.unwrap_or(0) + state.ssh.stale_after_ms;
            let fresh_for = state.ssh.sync_every_ms * 2;
            if last_success.is_none_or(|t| now - t > fresh_for) {
                key_state = if until > now { "stale".to_owned() } else { "stale_refused".to_owned() };
                usable_until = Some(until);
            }
        }
        keys.push(SshKeyView {
            id: r.try_get("id")?,
            member_email: r.try_get("email")?,
            source,
            key_type: r.try_get("key_type")?,
            bits: r.try_get("bits")?,
            fingerprint: r.try_get("fingerprint")?,
            comment: r.try_get("comment")?,
            state: key_state,
            state_reason: r.try_get("state_reason")?,
            usable_until,
            first_seen_at: r.try_get("first_seen_at")?,
            last_synced_at: r.try_get("last_synced_at")?,
            last_used_at: r.try_get("last_used_at")?,
        });
    }
    let link = sqlx::query(
        "SELECT github_user, last_success_at, last_error, next_sync_at FROM ssh_github_links WHERE membership_id = $1",
    )
    .bind(ctx.membership_id().as_str())
    .fetch_optional(&state.pool)
    .await?;
    let github = match link {
        Some(l) => Some(GithubLinkView {
            user: l.try_get("github_user")?,
            last_success_at: l.try_get("last_success_at")?,
            last_error: l.try_get("last_error")?,
            next_sync_at: l.try_get("next_sync_at")?,
        }),
        None => None,
    };
    let mut conn = state.pool.acquire().await?;
    let policy = policy_of(&mut conn, ctx.tenant_id()).await?;
    let certificates = sqlx::query(
        "SELECT serial, fingerprint, principal, valid_after, valid_before, certificate FROM ssh_certificates \
         WHERE tenant_id = $1 AND membership_id = $2 AND valid_before > $3 ORDER BY serial DESC LIMIT 20",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.membership_id().as_str())
    .bind(now)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(SshCertView {
            serial: r.try_get("serial")?,
            fingerprint: r.try_get("fingerprint")?,
            principal: r.try_get("principal")?,
            valid_after: r.try_get("valid_after")?,
            valid_before: r.try_get("valid_before")?,
            certificate: r.try_get("certificate")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let ca_public_key: Option<String> = sqlx::query_scalar("SELECT public_key FROM ssh_cas WHERE tenant_id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let cert_minutes: i64 = sqlx::query_scalar("SELECT ssh_cert_minutes FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *conn)
        .await?;
    let sftp = match state.ssh.sftp.get() {
        Some(end) => Some(sftp_access(state, ctx, &mut conn, end).await?),
        None => None,
    };
    Ok(SshKeysView {
        sftp,
        certificates,
        ca_public_key,
        cert_minutes,
        keys,
        github,
        policy: policy.as_str().to_owned(),
        all_members: all,
        sync_seconds: state.ssh.sync_every_ms / 1_000,
        github_token: state.ssh.github.token.is_some(),
    })
}

/// How the member reaches the SFTP gateway; the organisation's live sessions for owners and admins.
async fn sftp_access(
    state: &AppState,
    ctx: &TenantCtx,
    conn: &mut sqlx::AnyConnection,
    end: &super::SftpEndpoint,
) -> Result<SftpAccessView, AppError> {
    let row = sqlx::query("SELECT sftp_require_certs, sftp_paused_at FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *conn)
        .await?;
    let sessions = match ctx.require_admin() {
        Ok(admin) => super::gateway::sessions::list(state, ctx, &admin).await?,
        Err(_) => Vec::new(),
    };
    let email = ctx.actor().split(' ').next().unwrap_or_default();
    Ok(SftpAccessView {
        user: super::certs::sftp_user(email, ctx.tenant_name(), ctx.tenant_id().as_str()),
        host: end.host.clone(),
        port: end.port,
        host_key_fingerprint: end.host_key_fingerprint.clone(),
        require_certs: row.try_get::<i64, _>("sftp_require_certs")? == 1,
        paused: row.try_get::<Option<i64>, _>("sftp_paused_at")?.is_some(),
        sessions,
    })
}

/// Adds a pasted key to the member's own account.
pub async fn add_pasted(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _g: &Granted<perm::SshKeys>,
    line: &str,
) -> Result<String, AppError> {
    let key = keys::parse(line).map_err(|e| AppError::validation("public_key", e.to_string()))?;
    let mut tx = begin_write(&state.pool).await?;
    let policy = policy_of(&mut tx, ctx.tenant_id()).await?;
    policy.check(&key).map_err(|why| AppError::validation("public_key", why))?;
    let id = uuid::Uuid::new_v4().to_string();
    let now = state.clock.now_ms();
    let inserted = sqlx::query(
        "INSERT INTO ssh_keys (id, tenant_id, membership_id, source, key_type, bits, fingerprint, public_key, comment, \
         state, first_seen_at) VALUES ($1, $2, $3, 'pasted', $4, $5, $6, $7, $8, 'active', $9) \
         ON CONFLICT (membership_id, fingerprint) DO NOTHING",
    )
    .bind(&id)
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.membership_id().as_str())
    .bind(key.key_type.name())
    .bind(i64::from(key.bits))
    .bind(&key.fingerprint)
    .bind(key.openssh())
    .bind(&key.comment)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(AppError::validation("public_key", "This key is already on your account."));
    }
    let detail = format!("{} {} ({} bits), pasted", key.key_type.name(), key.fingerprint, key.bits);
    record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_key.added", &detail).await?;
    tell_member(&mut tx, state, ctx.tenant_id(), ctx.tenant_name(), ctx.actor(), &key, "pasted on the SSH keys page")
        .await?;
    tx.commit().await?;
    crate::backend::alerts::spawn_delivery(state);
    Ok(id)
}

/// Removes a key: one's own, or any member's for owners and admins. Another tenant's key is not found.
pub async fn remove(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _g: &Granted<perm::SshKeys>,
    key_id: &str,
) -> Result<(), AppError> {
    let admin = ctx.require_admin().is_ok();
    let mut tx = begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT k.fingerprint, k.membership_id, a.email FROM ssh_keys k JOIN memberships m ON m.id = k.membership_id \
         JOIN accounts a ON a.id = m.account_id WHERE k.id = $1 AND k.tenant_id = $2",
    )
    .bind(key_id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let owner: String = row.try_get("membership_id")?;
    if owner != ctx.membership_id().as_str() && !admin {
        return Err(AppError::NotFound);
    }
    let fingerprint: String = row.try_get("fingerprint")?;
    let email: String = row.try_get("email")?;
    sqlx::query("DELETE FROM ssh_keys WHERE id = $1").bind(key_id).execute(&mut *tx).await?;
    record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_key.removed", &format!("{fingerprint} of {email}"))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Links the member's GitHub account (replacing an earlier link and its keys) and syncs it at once.
pub async fn link_github(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    g: &Granted<perm::SshKeys>,
    user: &str,
) -> Result<super::sync::Synced, AppError> {
    let user = user.trim().trim_start_matches('@');
    if !github::valid_user(user) {
        return Err(AppError::validation("github_user", "Enter a GitHub user name (letters, digits and dashes)."));
    }
    unlink_github(state, meta, ctx, g).await?;
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    sqlx::query(
        "INSERT INTO ssh_github_links (membership_id, tenant_id, github_user, linked_at, next_sync_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(ctx.membership_id().as_str())
    .bind(ctx.tenant_id().as_str())
    .bind(user)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_key.github_linked", &format!("GitHub user {user}"))
        .await?;
    tx.commit().await?;
    super::sync::sync_link(state, ctx.membership_id().as_str()).await
}

/// Unlinks the member's GitHub account; its keys go with it.
pub async fn unlink_github(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _g: &Granted<perm::SshKeys>,
) -> Result<(), AppError> {
    let mut tx = begin_write(&state.pool).await?;
    let user: Option<String> = sqlx::query_scalar("SELECT github_user FROM ssh_github_links WHERE membership_id = $1")
        .bind(ctx.membership_id().as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(user) = user else { return Ok(()) };
    sqlx::query("DELETE FROM ssh_keys WHERE membership_id = $1 AND source = 'github'")
        .bind(ctx.membership_id().as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM ssh_github_links WHERE membership_id = $1")
        .bind(ctx.membership_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("GitHub user {user} and its keys");
    record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_key.github_unlinked", &detail).await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Sets the tenant's key policy and whether SFTP requires certificates; keys that break it are disabled (not deleted) and their owners told.
#[allow(clippy::too_many_arguments)]
pub async fn set_policy(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    policy: &str,
    cert_minutes: Option<i64>,
    require_certs: bool,
) -> Result<usize, AppError> {
    let policy = match policy {
        "standard" | "security_keys_only" => KeyPolicy::parse(policy),
        _ => return Err(AppError::validation("policy", "Choose a policy.")),
    };
    if cert_minutes.is_some_and(|m| !(1..=super::certs::MAX_MINUTES).contains(&m)) {
        return Err(AppError::validation("cert_minutes", "A certificate lives from 1 minute to 12 hours (720)."));
    }
    let mut tx = begin_write(&state.pool).await?;
    if let Some(m) = cert_minutes {
        sqlx::query("UPDATE tenants SET ssh_cert_minutes = $1 WHERE id = $2")
            .bind(m)
            .bind(ctx.tenant_id().as_str())
            .execute(&mut *tx)
            .await?;
        let detail = format!("certificates live {m} minute(s)");
        record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_cert.lifetime", &detail).await?;
    }
    sqlx::query("UPDATE tenants SET ssh_key_policy = $1 WHERE id = $2")
        .bind(policy.as_str())
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_key.policy", policy.as_str()).await?;
    let certs_changed =
        sqlx::query("UPDATE tenants SET sftp_require_certs = $1 WHERE id = $2 AND sftp_require_certs <> $1")
            .bind(i64::from(require_certs))
            .bind(ctx.tenant_id().as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
    if certs_changed {
        let detail = if require_certs { "SFTP requires short-lived certificates" } else { "SFTP accepts plain keys" };
        record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "sftp.require_certs", detail).await?;
    }
    let live = sqlx::query(
        "SELECT k.id, k.public_key, a.email FROM ssh_keys k JOIN memberships m ON m.id = k.membership_id \
         JOIN accounts a ON a.id = m.account_id WHERE k.tenant_id = $1 AND k.state = 'active'",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut disabled = 0;
    for r in &live {
        let Ok(key) = keys::parse(&r.try_get::<String, _>("public_key")?) else { continue };
        let Err(why) = policy.check(&key) else { continue };
        let email: String = r.try_get("email")?;
        sqlx::query("UPDATE ssh_keys SET state = 'disabled', state_reason = $1 WHERE id = $2")
            .bind(&why)
            .bind(r.try_get::<String, _>("id")?)
            .execute(&mut *tx)
            .await?;
        let detail = format!("{} of {email}: {why}", key.fingerprint);
        record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_key.disabled", &detail).await?;
        let alert = crate::backend::alerts::Alert {
            kind: "ssh_key_disabled",
            summary: "One of your SSH keys was disabled".to_owned(),
            lines: vec![
                format!(
                    "Your SSH key {} ({}) no longer meets the organisation's key policy.",
                    key.fingerprint,
                    key.key_type.name()
                ),
                why,
                "Add a key that does on the SSH keys page.".to_owned(),
            ],
        };
        let now = state.clock.now_ms();
        crate::backend::alerts::enqueue(&mut tx, now, ctx.tenant_id(), ctx.tenant_name(), &[email], &alert).await?;
        disabled += 1;
    }
    tx.commit().await?;
    if disabled > 0 {
        crate::backend::alerts::spawn_delivery(state);
    }
    if disabled > 0 || certs_changed {
        state.access_changed();
    }
    Ok(disabled)
}
