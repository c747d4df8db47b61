//! Enrolment tokens, enrolment and renewal.
//!
//! A token is `rmp_enrol_` and 40 base-62 characters (about 238 bits), kept as its SHA-256; it is spent in the
//! same transaction that stores the machine, so two enrolments racing with one token make one machine. A bad
//! CSR spends nothing. Enrolment and renewal come from the machine's source range when it has one.

use super::ca::{self, Issued};
use super::gate;
use crate::backend::access::{AdminHandle, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::keys::guard::{self, Cidr};
use crate::backend::platform::clock::HOUR_MS;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, FreshMachineToken};
use sqlx::{AnyConnection, Row as _};
use std::net::IpAddr;

const TOKEN_PREFIX: &str = "rmp_enrol_";
const MAX_NAME: usize = 80;

fn token_hash(token: &str) -> String {
    super::fingerprint(token.trim().as_bytes())
}

fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", crate::backend::platform::ids::random_base62(40))
}

/// What an admin asks for when creating a token.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub name: &'a str,
    pub source_range: &'a str,
    pub cert_days: i64,
    pub valid_hours: i64,
}

/// Creates a one-time enrolment token (and the tenant's CA with the first one); returns it, shown this once.
pub async fn create_token(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _fresh: &SteppedUp,
    meta: &RequestMeta,
    req: &TokenRequest<'_>,
) -> Result<FreshMachineToken, AppError> {
    if !state.machine_certs {
        return Err(AppError::Conflict {
            msg: "This server runs behind a TLS-terminating proxy: machine certificates never reach it.".to_owned(),
        });
    }
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::validation("name", format!("Name the machine in 1 to {MAX_NAME} characters.")));
    }
    let ranges = guard::parse_list::<Cidr>(req.source_range).map_err(|m| AppError::validation("source_range", m))?;
    if !super::CERT_DAYS.contains(&req.cert_days) {
        return Err(AppError::validation("cert_days", "A machine certificate is valid for 30 to 90 days."));
    }
    if !(1..=super::MAX_TOKEN_HOURS).contains(&req.valid_hours) {
        return Err(AppError::validation("valid_hours", "An enrolment token lives 1 to 24 hours."));
    }
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM machine_tokens WHERE tenant_id = $1 AND used_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $2",
    )
    .bind(tenant)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if open >= super::MAX_OPEN_TOKENS {
        return Err(AppError::Conflict {
            msg: format!("{} enrolment tokens are waiting: revoke some first.", super::MAX_OPEN_TOKENS),
        });
    }
    ca::ensure(&mut tx, state, tenant, ctx.tenant_name()).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let token = new_token();
    let expires_at = now + req.valid_hours * HOUR_MS;
    let range = guard::join_list(&ranges);
    sqlx::query(
        "INSERT INTO machine_tokens (id, tenant_id, token_hash, name, source_range, cert_days, created_by, \
         created_at, expires_at, created_by_membership) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(token_hash(&token))
    .bind(name)
    .bind(&range)
    .bind(req.cert_days)
    .bind(ctx.actor())
    .bind(now)
    .bind(expires_at)
    .bind(ctx.membership_id().as_str())
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "an enrolment token for “{name}” (certificate for {} days, from {}), valid until {}",
        req.cert_days,
        if range.is_empty() { "anywhere" } else { &range },
        crate::model::format_utc(expires_at)
    );
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "machine.token_created", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(FreshMachineToken { token_id: id, name: name.to_owned(), token })
}

const FRESH_TOKEN: &str = "fresh_machine_token";

/// Keeps a new token in the session (sealed) until the page takes it (`take_fresh`).
pub async fn stash_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    fresh: &FreshMachineToken,
) -> Result<(), AppError> {
    let labels = (fresh.token_id.as_str(), fresh.name.as_str());
    crate::backend::identity::sessions::fresh::stash(state, session, ctx, FRESH_TOKEN, labels, &fresh.token).await
}

/// Takes the new token out of the session: shown once, a reload finds nothing.
pub async fn take_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
) -> Result<Option<FreshMachineToken>, AppError> {
    let taken = crate::backend::identity::sessions::fresh::take(state, session, ctx, FRESH_TOKEN).await?;
    Ok(taken.map(|((token_id, name), token)| FreshMachineToken { token_id, name, token }))
}

/// Revokes a token not used yet.
pub async fn revoke_token(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    token_id: &str,
) -> Result<(), AppError> {
    let tenant = ctx.tenant_id().as_str();
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let name: String = sqlx::query_scalar(
        "SELECT name FROM machine_tokens WHERE id = $1 AND tenant_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    // Only while still unused: an enrolment committed since the read above (PostgreSQL) wins (404).
    let done = sqlx::query(
        "UPDATE machine_tokens SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND used_at IS NULL \
         AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(token_id)
    .bind(tenant)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    let detail = format!("the enrolment token for “{name}”");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "machine.token_revoked", Outcome::Success, &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A certificate handed to a machine, with the CA that signed it.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub machine_id: String,
    pub name: String,
    pub certificate: Issued,
    pub ca_pem: String,
}

/// Records a refused machine (or enrolment) in its tenant's history, in a transaction of its own.
pub async fn record_refusal(state: &AppState, tenant: &str, meta: &RequestMeta, actor: &str, detail: &str) {
    let tenant = TenantId(tenant.to_owned());
    let recorded = async {
        let mut tx = begin_write(&state.pool).await?;
        let now = state.clock.now_ms();
        let what = ("machine.refused", Outcome::Failure);
        audit::record_as(&mut tx, &state.keys, now, &tenant, actor, meta, what, detail).await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    };
    if let Err(err) = recorded.await {
        tracing::warn!(error = ?err, "refused machine not recorded");
    }
}

/// Enrols a machine: spends `token` and signs a certificate for the CSR's key. An unknown token is
/// `Unauthenticated` and recorded nowhere (the caller throttles it per address); a known token that is spent,
/// revoked, expired or used from outside its range is `Unauthenticated` too, recorded in its tenant's history.
pub async fn enrol(
    state: &AppState,
    meta: &RequestMeta,
    ip: IpAddr,
    token: &str,
    csr: &[u8],
) -> Result<Enrolled, AppError> {
    let now = state.clock.now_ms();
    let hash = token_hash(token);
    let row = sqlx::query(
        "SELECT t.id, t.tenant_id, t.name, t.source_range, t.cert_days, t.created_by, t.expires_at, t.used_at, \
         t.revoked_at FROM machine_tokens t WHERE t.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::Unauthenticated)?;
    let tenant: String = row.try_get("tenant_id")?;
    let name: String = row.try_get("name")?;
    let range: String = row.try_get("source_range")?;
    let why = if row.try_get::<Option<i64>, _>("used_at")?.is_some() {
        Some("already used")
    } else if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        Some("revoked")
    } else if row.try_get::<i64, _>("expires_at")? <= now {
        Some("expired")
    } else if !gate::in_range(&range, ip) {
        Some("outside the machine's source range")
    } else {
        None
    };
    let actor = format!("Machine “{name}”");
    if let Some(why) = why {
        record_refusal(state, &tenant, meta, &actor, &format!("enrolment refused: the token is {why}")).await;
        return Err(AppError::Unauthenticated);
    }
    refuse_if_blocked(state, &tenant, meta, ip, &actor, "enrolment").await?;
    let csr = ca::check_csr(csr)?;
    let token_id: String = row.try_get("id")?;
    let cert_days: i64 = row.try_get("cert_days")?;
    let created_by: String = row.try_get("created_by")?;
    let machine_id = uuid::Uuid::new_v4().to_string();
    let mut tx = begin_write(&state.pool).await?;
    let spent = sqlx::query(
        "UPDATE machine_tokens SET used_at = $1, machine_id = $2 WHERE id = $3 AND tenant_id = $4 \
         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
    )
    .bind(now)
    .bind(&machine_id)
    .bind(&token_id)
    .bind(&tenant)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if spent != 1 {
        return Err(AppError::Unauthenticated);
    }
    sqlx::query(
        "INSERT INTO machines (id, tenant_id, name, source_range, cert_days, created_by, created_at, last_seen_at, \
         last_seen_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(&machine_id)
    .bind(&tenant)
    .bind(&name)
    .bind(&range)
    .bind(cert_days)
    .bind(&created_by)
    .bind(now)
    .bind(ip.to_string())
    .execute(&mut *tx)
    .await?;
    let certificate = ca::issue(&mut tx, state, &tenant, (&machine_id, &name), &csr, cert_days).await?;
    let detail = format!(
        "“{name}” enrolled with the token {created_by} created; certificate {} valid until {}",
        short(&certificate.fingerprint),
        crate::model::format_utc(certificate.not_after)
    );
    record_machine_event(&mut tx, state, &tenant, meta, &actor, "machine.enrolled", &detail).await?;
    let (ca_pem, _) = ca::certificate(&mut tx, &tenant).await?.ok_or(AppError::Unavailable)?;
    tx.commit().await?;
    state.access_changed();
    Ok(Enrolled { machine_id, name, certificate, ca_pem })
}

/// Renews the certificate of the machine presenting `certificate` (over mTLS, before it ends): a new
/// certificate for the CSR's key, as long as the first; the presented one keeps working for a day.
pub async fn renew(
    state: &AppState,
    meta: &RequestMeta,
    ip: IpAddr,
    certificate: Option<&str>,
    csr: &[u8],
) -> Result<Enrolled, AppError> {
    let now = state.clock.now_ms();
    let fingerprint = certificate.ok_or(AppError::Unauthenticated)?;
    let cert = gate::lookup(state, fingerprint).await?.ok_or(AppError::Unauthenticated)?;
    let actor = format!("Machine “{}”", cert.name);
    if let Some(reason) = cert.refusal(ip, now) {
        let detail = format!("renewal refused ({reason}) for certificate {}", short(fingerprint));
        record_refusal(state, &cert.tenant_id, meta, &actor, &detail).await;
        return Err(AppError::Unauthenticated);
    }
    refuse_if_blocked(state, &cert.tenant_id, meta, ip, &actor, "renewal").await?;
    let csr = ca::check_csr(csr)?;
    let mut tx = begin_write(&state.pool).await?;
    // The machine may have been revoked since the lookup: the new certificate only for a machine still active.
    let active: Option<String> =
        sqlx::query_scalar("SELECT id FROM machines WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL")
            .bind(&cert.machine_id)
            .bind(&cert.tenant_id)
            .fetch_optional(&mut *tx)
            .await?;
    if active.is_none() {
        return Err(AppError::Unauthenticated);
    }
    let issued =
        ca::issue(&mut tx, state, &cert.tenant_id, (&cert.machine_id, &cert.name), &csr, cert.cert_days).await?;
    // One line of certificates per machine: every other certificate of it ends now. A renewal from a
    // certificate already replaced (a lost answer retried, or a copy of the old key and certificate) would
    // otherwise leave two live successors, each renewing on its own for good. After the issue, which holds the
    // CA's row until this commits: a renewal racing this one (PostgreSQL) waits there, then ends this one's.
    let retired = sqlx::query(
        "UPDATE machine_certs SET replaced_at = $1 WHERE machine_id = $2 AND tenant_id = $3 AND fingerprint <> $4 \
         AND fingerprint <> $5 AND (replaced_at IS NULL OR replaced_at > $1)",
    )
    .bind(now - super::REPLACED_GRACE_MS)
    .bind(&cert.machine_id)
    .bind(&cert.tenant_id)
    .bind(fingerprint)
    .bind(&issued.fingerprint)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE machine_certs SET replaced_at = $1 WHERE fingerprint = $2 AND tenant_id = $3 AND replaced_at IS NULL",
    )
    .bind(now)
    .bind(fingerprint)
    .bind(&cert.tenant_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE machines SET last_seen_at = $1, last_seen_ip = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(now)
        .bind(ip.to_string())
        .bind(&cert.machine_id)
        .bind(&cert.tenant_id)
        .execute(&mut *tx)
        .await?;
    let mut detail = format!(
        "“{}” renewed certificate {}: certificate {} valid until {}",
        cert.name,
        short(fingerprint),
        short(&issued.fingerprint),
        crate::model::format_utc(issued.not_after)
    );
    if retired > 0 {
        detail.push_str(&format!("; {retired} other certificate(s) of the machine ended"));
    }
    record_machine_event(&mut tx, state, &cert.tenant_id, meta, &actor, "machine.renewed", &detail).await?;
    let (ca_pem, _) = ca::certificate(&mut tx, &cert.tenant_id).await?.ok_or(AppError::Unavailable)?;
    tx.commit().await?;
    state.access_changed();
    Ok(Enrolled { machine_id: cert.machine_id, name: cert.name, certificate: issued, ca_pem })
}

/// Enrolment and renewal carry no API key, so the REST gate cannot hold them to the tenant's IP block list
/// before it knows the tenant: they are held to it here, once the token or certificate named it (403, recorded).
async fn refuse_if_blocked(
    state: &AppState,
    tenant: &str,
    meta: &RequestMeta,
    ip: IpAddr,
    actor: &str,
    what: &str,
) -> Result<(), AppError> {
    let tenant_id = TenantId(tenant.to_owned());
    if let Some(refusal) = crate::backend::network::rules::check_api(state, &tenant_id, ip).await? {
        record_refusal(state, tenant, meta, actor, &format!("{what} refused (ip_blocked: {})", refusal.detail(ip)))
            .await;
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// The first 16 hex digits of a fingerprint, as the pages and events show it.
pub fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

async fn record_machine_event(
    conn: &mut AnyConnection,
    state: &AppState,
    tenant: &str,
    meta: &RequestMeta,
    actor: &str,
    action: &str,
    detail: &str,
) -> Result<(), AppError> {
    let tenant = TenantId(tenant.to_owned());
    let now = state.clock.now_ms();
    audit::record_as(conn, &state.keys, now, &tenant, actor, meta, (action, Outcome::Success), detail).await
}
