//! What a connection's client certificate says about a request: looked up by SHA-256 on every request (a
//! revocation applies to the very next one), judged against the key's tenant, the certificate's validity, a
//! renewal's grace and the machine's source range. A machine's last sighting is written at most once a minute
//! (or when its address changes).

use crate::backend::keys::guard::Cidr;
use crate::backend::platform::clock::MINUTE_MS;
use crate::backend::AppState;
use sqlx::Row as _;
use std::net::IpAddr;

/// A certificate's row with its machine's.
#[derive(Debug, Clone)]
pub struct CertState {
    pub machine_id: String,
    pub tenant_id: String,
    pub name: String,
    pub cert_days: i64,
    source_range: String,
    not_before: i64,
    not_after: i64,
    replaced_at: Option<i64>,
    revoked: bool,
    last_seen_at: Option<i64>,
    last_seen_ip: Option<String>,
}

/// The machine behind certificate `fingerprint`, if it is one Rampart issued.
pub async fn lookup(state: &AppState, fingerprint: &str) -> Result<Option<CertState>, sqlx::Error> {
    let Some(r) = sqlx::query(
        "SELECT c.machine_id, c.tenant_id, c.not_before, c.not_after, c.replaced_at, m.name, m.cert_days, \
         m.source_range, m.revoked_at, m.last_seen_at, m.last_seen_ip FROM machine_certs c \
         JOIN machines m ON m.id = c.machine_id AND m.tenant_id = c.tenant_id WHERE c.fingerprint = $1",
    )
    .bind(fingerprint)
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(CertState {
        machine_id: r.try_get("machine_id")?,
        tenant_id: r.try_get("tenant_id")?,
        name: r.try_get("name")?,
        cert_days: r.try_get("cert_days")?,
        source_range: r.try_get("source_range")?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
        replaced_at: r.try_get("replaced_at")?,
        revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        last_seen_at: r.try_get("last_seen_at")?,
        last_seen_ip: r.try_get("last_seen_ip")?,
    }))
}

impl CertState {
    /// Why this certificate may not be used from `ip` at `now`, if it may not.
    pub fn refusal(&self, ip: IpAddr, now: i64) -> Option<&'static str> {
        if self.revoked {
            return Some("machine_revoked");
        }
        if now < self.not_before || now >= self.not_after {
            return Some("machine_expired");
        }
        if self.replaced_at.is_some_and(|at| now >= at + super::REPLACED_GRACE_MS) {
            return Some("machine_replaced");
        }
        if !in_range(&self.source_range, ip) {
            return Some("machine_outside_range");
        }
        None
    }

    /// Records the sighting when the last one is a minute old or came from elsewhere.
    pub async fn seen(&self, state: &AppState, ip: IpAddr, now: i64) {
        let ip = ip.to_string();
        let fresh = self.last_seen_at.is_some_and(|at| now - at < MINUTE_MS);
        if fresh && self.last_seen_ip.as_deref() == Some(ip.as_str()) {
            return;
        }
        let written =
            sqlx::query("UPDATE machines SET last_seen_at = $1, last_seen_ip = $2 WHERE id = $3 AND tenant_id = $4")
                .bind(now)
                .bind(&ip)
                .bind(&self.machine_id)
                .bind(&self.tenant_id)
                .execute(&state.pool)
                .await;
        if let Err(err) = written {
            tracing::warn!(error = %err, "machine sighting not written");
        }
    }
}

/// Whether `ip` is within a machine's stored source range (comma-separated blocks; empty: anywhere). A range
/// that no longer parses admits nothing.
pub fn in_range(range: &str, ip: IpAddr) -> bool {
    range.is_empty()
        || crate::backend::keys::guard::parse_list::<Cidr>(range).is_ok_and(|r| r.iter().any(|c| c.contains(ip)))
}

/// A request's machine, as the REST gate judged it.
#[derive(Debug, Clone)]
pub struct Judged {
    pub machine_id: String,
    pub name: String,
}

/// Judges a request of a key of `tenant` that presented `certificate` (or none) from `ip`: `Ok(None)` without
/// a certificate on a key that allows that, `Ok(Some(machine))` for an active machine of the tenant, otherwise
/// the reason (recorded; the caller gets 401). A "machines only" key needs a machine.
pub async fn judge(
    state: &AppState,
    tenant: &str,
    machines_only: bool,
    certificate: Option<&str>,
    ip: IpAddr,
    now: i64,
) -> Result<Option<Judged>, &'static str> {
    let Some(fingerprint) = certificate else {
        return if machines_only { Err("machine_required") } else { Ok(None) };
    };
    let found = lookup(state, fingerprint).await.map_err(|err| {
        tracing::warn!(error = %err, "machine lookup failed");
        "unavailable"
    })?;
    let cert = found.ok_or("machine_unknown")?;
    if cert.tenant_id != tenant {
        return Err("machine_other_tenant");
    }
    if let Some(reason) = cert.refusal(ip, now) {
        return Err(reason);
    }
    cert.seen(state, ip, now).await;
    Ok(Some(Judged { machine_id: cert.machine_id, name: cert.name }))
}
