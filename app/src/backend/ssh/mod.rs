//! Members' SSH keys: pasted on the SSH keys page, or synced from the member's GitHub account every few minutes
//! (`sync`); every key from every source held to the tenant's key policy (`keys`). Every change is an
//! access-history event (`ssh_key.added`, `.removed`, `.revoked_upstream`, `.disabled`, `.stale`), and the
//! member is emailed when a key is added to their account.
//!
//! A GitHub key is usable while the last good sync of its link is at most the stale limit old (1 hour by
//! default): when GitHub cannot be reached, the last known keys keep working that long, marked stale, then stop
//! until a sync succeeds (fail closed). A key gone from GitHub is revoked at the next sync; a 404 for the user
//! revokes all of them; a user name that comes to mean another GitHub account (its numeric id changed) too.

pub mod certs;
pub mod gateway;
pub mod github;
pub mod keys;
pub mod manage;
pub mod sync;

use crate::backend::audit::{self, Outcome};
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::AnyConnection;

/// The SSH settings of the server.
#[derive(Debug, Clone)]
pub struct SshSettings {
    pub github: github::GithubConfig,
    /// Between two syncs of one link (jittered by up to a fifth).
    pub sync_every_ms: i64,
    /// How long the last known GitHub keys keep working when GitHub cannot be reached.
    pub stale_after_ms: i64,
    /// The SFTP gateway, once it listens: where members reach it and its host key's fingerprint.
    pub sftp: std::sync::Arc<std::sync::OnceLock<SftpEndpoint>>,
}

/// Where the SFTP gateway listens, as members reach it.
#[derive(Debug, Clone)]
pub struct SftpEndpoint {
    pub host: String,
    pub port: u16,
    pub host_key_fingerprint: String,
}

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            github: github::GithubConfig::default(),
            sync_every_ms: 5 * 60_000,
            stale_after_ms: 60 * 60_000,
            sftp: Default::default(),
        }
    }
}

/// Records an SSH key event of the tenant, by `actor` (a member, or `rampart` for the sync).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    conn: &mut AnyConnection,
    state: &AppState,
    tenant: &TenantId,
    actor: &str,
    meta: &RequestMeta,
    action: &str,
    detail: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    audit::record_as(conn, &state.keys, now, tenant, actor, meta, (action, Outcome::Success), detail).await
}

/// Queues the email that tells a member a key was added to their account.
pub(crate) async fn tell_member(
    conn: &mut AnyConnection,
    state: &AppState,
    tenant: &TenantId,
    tenant_name: &str,
    email: &str,
    key: &keys::PublicKey,
    source: &str,
) -> Result<(), AppError> {
    let alert = crate::backend::alerts::Alert {
        kind: "ssh_key_added",
        summary: format!("An SSH key was added to your account ({})", key.key_type.name()),
        lines: vec![
            format!("An SSH key was added to your account in {tenant_name} ({source})."),
            format!("Type: {} ({} bits). Fingerprint: {}.", key.key_type.name(), key.bits, key.fingerprint),
            "If you did not add it, remove it on the SSH keys page and tell your administrator.".to_owned(),
        ],
    };
    crate::backend::alerts::enqueue(conn, state.clock.now_ms(), tenant, tenant_name, &[email.to_owned()], &alert).await
}

/// Deletes a membership's SSH keys, GitHub link and certificates (the member leaves, or is erased); returns how
/// many keys.
pub async fn forget_member(conn: &mut AnyConnection, tenant: &TenantId, membership: &str) -> Result<u64, AppError> {
    let keys = sqlx::query("DELETE FROM ssh_keys WHERE membership_id = $1 AND tenant_id = $2")
        .bind(membership)
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM ssh_github_links WHERE membership_id = $1 AND tenant_id = $2")
        .bind(membership)
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?;
    // Certificates name the member (principal, key id): they go too (the gateway refuses them anyway).
    sqlx::query("DELETE FROM ssh_certificates WHERE membership_id = $1 AND tenant_id = $2")
        .bind(membership)
        .bind(tenant.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(keys)
}

/// The key policy of a tenant.
pub(crate) async fn policy_of(conn: &mut AnyConnection, tenant: &TenantId) -> Result<keys::KeyPolicy, AppError> {
    let p: Option<String> = sqlx::query_scalar("SELECT ssh_key_policy FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(keys::KeyPolicy::parse(p.as_deref().unwrap_or("standard")))
}
