//! The SFTP gateway's decisions (the server runs the SSH protocol; everything it lets through is decided here).
//!
//! - User name: `<member email>@<tenant slug>` (`certs::sftp_user`: the tenant's name in lower-case letters,
//!   digits and dashes, a dash, the first six characters of its id), so one account in two tenants has two.
//! - Credentials: a public key the member registered (pasted, or synced from GitHub and usable now), or a
//!   certificate of the tenant's own CA (`certs`) whose serial, key, member and principal match what was issued,
//!   issued after the tenant's last panic. When the tenant requires certificates, plain keys are refused.
//! - Refused as well: a deactivated member, one without `vault_read`, a closing tenant, a tenant whose SFTP is
//!   paused by its panic button, an address the tenant's network rules refuse (as on the console) or that is
//!   blocked automatically. Every refusal counts as a failed sign-in (`identity::throttle`, the per-address
//!   automatic block, the 20-failure alert) and is recorded as `sftp.sign_in` with the reason; a throttled or
//!   suspended account is refused before anything is checked.
//! - A live session is checked again whenever access changes anywhere and every second (`sessions`): a removed
//!   or revoked key, an ended membership, a lost grant, a panic or an admin's "end" closes it.

pub mod sessions;

use super::certs::sftp_user;
use crate::backend::access::{MemberParts, TenantCtx};
use crate::backend::identity::accounts::email_key;
use crate::backend::identity::auth::failure::{self, FailingAccount};
use crate::backend::identity::throttle;
use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, Permission};
use sqlx::Row as _;

/// A member a user name names (found before any credential is checked).
#[derive(Debug, Clone)]
pub struct Member {
    pub user: String,
    pub account_id: AccountId,
    pub email: String,
    pub membership_id: MembershipId,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    role: String,
    grants: Vec<Permission>,
    active: bool,
    closing: bool,
    sftp_paused: bool,
    require_certs: bool,
    last_panic_at: Option<i64>,
    /// The fingerprint of the tenant's certificate authority, when it has one.
    pub ca_fingerprint: Option<String>,
}

/// The credential a client proved it holds (the server checked the signature, and for a certificate its CA
/// signature, validity window and type).
#[derive(Debug, Clone)]
pub enum Presented {
    Key { fingerprint: String },
    Certificate { serial: u64, key_fingerprint: String, principals: Vec<String>, valid_before: u64 },
}

impl Presented {
    pub fn fingerprint(&self) -> &str {
        match self {
            Self::Key { fingerprint } => fingerprint,
            Self::Certificate { key_fingerprint, .. } => key_fingerprint,
        }
    }
}

/// A member let in: the context every file operation runs under, and what to record.
#[derive(Debug, Clone)]
pub struct Login {
    pub ctx: TenantCtx,
    pub via: &'static str,
    pub key_fingerprint: String,
    pub ssh_key_id: Option<String>,
    pub cert_serial: Option<i64>,
}

/// The member `user` names, or `None` (an unknown user gets the same refusals, after the same delay).
pub async fn find(state: &AppState, user: &str) -> Result<Option<Member>, AppError> {
    let Some((email, _)) = user.rsplit_once('@') else { return Ok(None) };
    if user.len() > 400 {
        return Ok(None);
    }
    let rows = sqlx::query(
        "SELECT a.id AS account_id, a.email, m.id AS membership_id, m.tenant_id, m.role, m.grants, \
         m.deactivated_at, t.name, t.closes_at, t.sftp_paused_at, t.sftp_require_certs, t.last_panic_at, \
         c.public_key AS ca_key FROM accounts a JOIN memberships m ON m.account_id = a.id \
         JOIN tenants t ON t.id = m.tenant_id LEFT JOIN ssh_cas c ON c.tenant_id = t.id WHERE a.email_key = $1",
    )
    .bind(email_key(email))
    .fetch_all(&state.pool)
    .await?;
    for r in rows {
        let email: String = r.try_get("email")?;
        let tenant_id: String = r.try_get("tenant_id")?;
        let tenant_name: String = r.try_get("name")?;
        let name = sftp_user(&email, &tenant_name, &tenant_id);
        if !name.eq_ignore_ascii_case(user) {
            continue;
        }
        let ca_key: Option<String> = r.try_get("ca_key")?;
        return Ok(Some(Member {
            user: name,
            account_id: AccountId(r.try_get("account_id")?),
            email,
            membership_id: MembershipId(r.try_get("membership_id")?),
            tenant_id: TenantId(tenant_id),
            tenant_name,
            role: r.try_get("role")?,
            grants: Permission::parse_list(&r.try_get::<String, _>("grants")?),
            active: r.try_get::<Option<i64>, _>("deactivated_at")?.is_none(),
            closing: r.try_get::<Option<i64>, _>("closes_at")?.is_some(),
            sftp_paused: r.try_get::<Option<i64>, _>("sftp_paused_at")?.is_some(),
            require_certs: r.try_get::<i64, _>("sftp_require_certs")? == 1,
            last_panic_at: r.try_get("last_panic_at")?,
            ca_fingerprint: ca_key.as_deref().and_then(|k| super::keys::parse(k).ok()).map(|k| k.fingerprint),
        }));
    }
    Ok(None)
}

/// Whether `fingerprint` is one of the member's stored keys (the cheap check before a signature is asked
/// for; it changes nothing and counts nothing).
pub async fn knows_key(state: &AppState, member: &Member, fingerprint: &str) -> Result<bool, AppError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM ssh_keys WHERE membership_id = $1 AND tenant_id = $2 AND fingerprint = $3 \
         AND state = 'active'",
    )
    .bind(member.membership_id.as_str())
    .bind(member.tenant_id.as_str())
    .bind(fingerprint)
    .fetch_one(&state.pool)
    .await?;
    Ok(n > 0)
}

/// Decides a proven credential: the login, or `Ok(None)` after recording the refusal (the client learns
/// nothing more than "denied").
pub async fn admit(
    state: &AppState,
    member: &Member,
    presented: &Presented,
    meta: &RequestMeta,
) -> Result<Option<Login>, AppError> {
    let key = email_key(&member.email);
    let counters = {
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        let standing = throttle::devices::standing(&mut tx, &member.account_id, None, &meta.ip).await?;
        let counters = throttle::Counters::new(state, &key, &meta.ip, &standing);
        let refusal = throttle::reserve(&mut tx, &counters, state.clock.now_ms()).await?.err();
        if let Some(r) = refusal {
            tx.rollback().await?;
            refuse(state, member, meta, &counters, r.as_str()).await?;
            return Ok(None);
        }
        tx.commit().await?;
        counters
    };
    match decide(state, member, presented, meta).await? {
        Err(reason) => {
            refuse(state, member, meta, &counters, &reason).await?;
            Ok(None)
        }
        Ok(login) => {
            let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
            throttle::reset(&mut tx, &counters).await?;
            if let Some(id) = &login.ssh_key_id {
                sqlx::query("UPDATE ssh_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(state.clock.now_ms())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(login))
        }
    }
}

/// Records a refusal decided outside `admit` (a certificate the server's checks refused, or a connection that
/// ended without offering a usable credential): one failed sign-in of the member.
pub async fn record_refusal(
    state: &AppState,
    member: &Member,
    meta: &RequestMeta,
    reason: &str,
) -> Result<(), AppError> {
    let counters = {
        let mut conn = state.pool.acquire().await?;
        let standing = throttle::devices::standing(&mut conn, &member.account_id, None, &meta.ip).await?;
        throttle::Counters::new(state, &email_key(&member.email), &meta.ip, &standing)
    };
    refuse(state, member, meta, &counters, reason).await
}

/// Records a connection that named no member and tried to get in: a failed sign-in without tenant (the email
/// masked), counted against the address like any other.
pub async fn record_unknown_user(state: &AppState, user: &str, meta: &RequestMeta) -> Result<(), AppError> {
    let email = user.rsplit_once('@').map(|(e, _)| e).unwrap_or(user);
    let counters = {
        let mut conn = state.pool.acquire().await?;
        let standing = throttle::devices::standing(&mut conn, &AccountId(String::new()), None, &meta.ip).await?;
        throttle::Counters::new(state, &email_key(email), &meta.ip, &standing)
    };
    failure::record(state, meta, "sftp.sign_in", email, None, &counters, "SFTP: unknown user").await
}

async fn refuse(
    state: &AppState,
    member: &Member,
    meta: &RequestMeta,
    counters: &throttle::Counters,
    reason: &str,
) -> Result<(), AppError> {
    let account = FailingAccount {
        account_id: &member.account_id,
        email: &member.email,
        tenants: vec![(&member.tenant_id, member.tenant_name.as_str())],
    };
    failure::record(state, meta, "sftp.sign_in", &member.email, Some(account), counters, &format!("SFTP: {reason}"))
        .await
}

/// The refusal reason, or the login.
async fn decide(
    state: &AppState,
    member: &Member,
    presented: &Presented,
    meta: &RequestMeta,
) -> Result<Result<Login, String>, AppError> {
    let ctx = TenantCtx::for_sftp(
        MemberParts {
            tenant_id: member.tenant_id.clone(),
            account_id: member.account_id.clone(),
            membership_id: member.membership_id.clone(),
            role: member.role.clone(),
            email: member.email.clone(),
            tenant_name: member.tenant_name.clone(),
            grants: member.grants.clone(),
            tenant_count: 1,
        },
        presented.fingerprint().to_owned(),
    );
    if !member.active {
        return Ok(Err("the member is deactivated".into()));
    }
    if member.closing {
        return Ok(Err("the organisation is closing".into()));
    }
    if member.sftp_paused {
        return Ok(Err("SFTP is paused since the panic button was pressed".into()));
    }
    if !ctx.can(Permission::VaultRead) {
        return Ok(Err("the member may not read the vault".into()));
    }
    let ip = meta.ip.parse().ok();
    if state.ip_guard.blocked_until(&state.pool, &meta.ip, state.clock.now_ms()).await.is_some() {
        return Ok(Err("the address is blocked after too many failed sign-ins".into()));
    }
    if let Some(ip) = ip {
        if let Some(r) = crate::backend::network::rules::check_console(state, &member.tenant_id, ip).await? {
            return Ok(Err(format!("network rules: {}", r.detail(ip))));
        }
    }
    match presented {
        Presented::Key { fingerprint } => {
            if member.require_certs {
                return Ok(Err("the organisation requires short-lived certificates".into()));
            }
            let id: Option<String> = sqlx::query_scalar(
                "SELECT id FROM ssh_keys WHERE membership_id = $1 AND tenant_id = $2 AND fingerprint = $3",
            )
            .bind(member.membership_id.as_str())
            .bind(member.tenant_id.as_str())
            .bind(fingerprint)
            .fetch_optional(&state.pool)
            .await?;
            let Some(id) = id else { return Ok(Err(format!("{fingerprint} is not a key of the member"))) };
            if !super::sync::usable(state, &id).await? {
                return Ok(Err(format!("{fingerprint} is disabled, revoked or stale")));
            }
            Ok(Ok(Login {
                ctx,
                via: "key",
                key_fingerprint: fingerprint.clone(),
                ssh_key_id: Some(id),
                cert_serial: None,
            }))
        }
        Presented::Certificate { serial, key_fingerprint, principals, valid_before } => {
            if principals.len() != 1 || !principals[0].eq_ignore_ascii_case(&member.user) {
                return Ok(Err(format!("certificate {serial}: its principals are not {}", member.user)));
            }
            let serial = i64::try_from(*serial).unwrap_or(-1);
            let row = sqlx::query(
                "SELECT membership_id, fingerprint, issued_at, valid_before FROM ssh_certificates \
                 WHERE tenant_id = $1 AND serial = $2",
            )
            .bind(member.tenant_id.as_str())
            .bind(serial)
            .fetch_optional(&state.pool)
            .await?;
            let Some(row) = row else { return Ok(Err(format!("certificate {serial} was not issued here"))) };
            let issued_at: i64 = row.try_get("issued_at")?;
            let same = row.try_get::<String, _>("membership_id")? == member.membership_id.as_str()
                && row.try_get::<String, _>("fingerprint")? == *key_fingerprint
                && row.try_get::<i64, _>("valid_before")? == i64::try_from(*valid_before).unwrap_or(-1) * 1000;
            if !same {
                return Ok(Err(format!("certificate {serial} does not match what was issued")));
            }
            if member.last_panic_at.is_some_and(|p| issued_at <= p) {
                return Ok(Err(format!("certificate {serial} was issued before the panic button was pressed")));
            }
            Ok(Ok(Login {
                ctx,
                via: "certificate",
                key_fingerprint: key_fingerprint.clone(),
                ssh_key_id: None,
                cert_serial: Some(serial),
            }))
        }
    }
}
