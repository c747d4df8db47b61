//! Short-lived SSH user certificates (OpenSSH's `PROTOCOL.certkeys`), signed by the tenant's own certificate
//! authority: an ed25519 key made on first use, its private half sealed under the master key like the TOTP
//! seals. A member who passed two-factor authentication in a fresh step-up pastes a public key and gets a
//! certificate: type user, the one principal of their SFTP user name, valid from a minute ago for the tenant's
//! lifetime (15 minutes by default, at most 12 hours), a key id naming member, tenant and serial, no critical
//! options and no extensions (SFTP needs none). Every issue is an event and is kept (serial, key, validity), so
//! a panic can refuse what was issued before it.

use super::keys::{self, PublicKey};
use super::record;
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use sqlx::{AnyConnection, Row as _};

/// Longest lifetime a tenant may set, in minutes.
pub const MAX_MINUTES: i64 = 12 * 60;

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(s);
}

/// The certificate type of a key type.
fn cert_type(key: &PublicKey) -> String {
    let name = key.key_type.name();
    match name.strip_suffix("@openssh.com") {
        Some(sk) => format!("{sk}-cert-v01@openssh.com"),
        None => format!("{name}-cert-v01@openssh.com"),
    }
}

/// The SFTP user name of a member: `<email>@<tenant slug>`, the slug being the tenant's name in lower-case
/// letters, digits and dashes, then `-` and the first six characters of its id (names need not be unique).
pub fn sftp_user(email: &str, tenant_name: &str, tenant_id: &str) -> String {
    let mut slug = String::new();
    for c in tenant_name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let id: String = tenant_id.chars().filter(char::is_ascii_alphanumeric).take(6).collect();
    format!("{email}@{}{}{id}", slug, if slug.is_empty() { "" } else { "-" })
}

/// What a certificate says, before it is signed.
pub struct CertRequest<'a> {
    pub key: &'a PublicKey,
    pub serial: u64,
    pub key_id: &'a str,
    pub principal: &'a str,
    pub valid_after: u64,
    pub valid_before: u64,
}

/// Builds and signs a certificate; returns the `ssh-…-cert-v01@openssh.com base64 comment` line.
pub fn sign(ca: &ed25519_dalek::SigningKey, req: &CertRequest<'_>) -> Result<String, AppError> {
    let kind = cert_type(req.key);
    let mut body = Vec::with_capacity(req.key.blob.len() + 512);
    put_string(&mut body, kind.as_bytes());
    put_string(&mut body, &rand::random::<[u8; 32]>());
    // The subject key's fields, as in its own blob after its type name.
    let type_len = req.key.blob.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let fields =
        type_len.and_then(|n| req.key.blob.get(4 + n..)).ok_or(AppError::validation("public_key", "damaged key"))?;
    body.extend_from_slice(fields);
    body.extend_from_slice(&req.serial.to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes()); // SSH_CERT_TYPE_USER
    put_string(&mut body, req.key_id.as_bytes());
    let mut principals = Vec::new();
    put_string(&mut principals, req.principal.as_bytes());
    put_string(&mut body, &principals);
    body.extend_from_slice(&req.valid_after.to_be_bytes());
    body.extend_from_slice(&req.valid_before.to_be_bytes());
    put_string(&mut body, b""); // critical options: none
    put_string(&mut body, b""); // extensions: none
    put_string(&mut body, b""); // reserved
    put_string(&mut body, &ca_blob(&ca.verifying_key()));
    let signature = ca.sign(&body);
    let mut sig = Vec::with_capacity(83);
    put_string(&mut sig, b"ssh-ed25519");
    put_string(&mut sig, &signature.to_bytes());
    put_string(&mut body, &sig);
    Ok(format!("{kind} {} {}", base64::engine::general_purpose::STANDARD.encode(&body), req.key_id))
}

/// An ed25519 public key's SSH blob.
pub fn ca_blob(key: &ed25519_dalek::VerifyingKey) -> Vec<u8> {
    let mut blob = Vec::with_capacity(51);
    put_string(&mut blob, b"ssh-ed25519");
    put_string(&mut blob, key.as_bytes());
    blob
}

/// The tenant's CA key, made (and sealed) on first use; returns it with the serial to use next.
async fn tenant_ca(
    conn: &mut AnyConnection,
    state: &AppState,
    tenant: &str,
) -> Result<(ed25519_dalek::SigningKey, i64), AppError> {
    let aad = format!("rampart-ssh-ca\n{tenant}");
    let made: Option<i64> = sqlx::query_scalar("SELECT next_serial FROM ssh_cas WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?;
    if made.is_none() {
        let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        let (key_id, sealed) = state.keys.seal(aad.as_bytes(), key.as_bytes())?;
        let public =
            format!("ssh-ed25519 {}", base64::engine::general_purpose::STANDARD.encode(ca_blob(&key.verifying_key())));
        // Two first certificates at once (PostgreSQL): one key is kept, the other request uses it too.
        sqlx::query(
            "INSERT INTO ssh_cas (tenant_id, public_key, sealed_key, seal_key_id, next_serial, created_at) \
             VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(tenant)
        .bind(public)
        .bind(sealed)
        .bind(key_id)
        .bind(state.clock.now_ms())
        .execute(&mut *conn)
        .await?;
    }
    // The serial is taken by the write itself: two issues at once each read the row as committed on PostgreSQL,
    // and a read before the increment gave both the same serial (the second then failed on the primary key).
    let r = sqlx::query(
        "UPDATE ssh_cas SET next_serial = next_serial + 1 WHERE tenant_id = $1 \
         RETURNING sealed_key, seal_key_id, next_serial - 1 AS serial",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await?;
    let seed = state.keys.open(
        &r.try_get::<String, _>("seal_key_id")?,
        aad.as_bytes(),
        &r.try_get::<String, _>("sealed_key")?,
    )?;
    let seed: [u8; 32] = seed.try_into().map_err(|_| AppError::Unavailable)?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let serial: i64 = r.try_get("serial")?;
    Ok((key, serial))
}

/// Issues a certificate for `line` to the signed-in member, who must have two-factor authentication on (the
/// fresh step-up then included a code). Returns the certificate line.
pub async fn issue(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _g: &Granted<perm::SshKeys>,
    _fresh: &SteppedUp,
    line: &str,
) -> Result<String, AppError> {
    let key = keys::parse(line).map_err(|e| AppError::validation("public_key", e.to_string()))?;
    let two_factor: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM totp_factors WHERE account_id = $1 AND enabled_at IS NOT NULL")
            .bind(ctx.account_id().as_str())
            .fetch_one(&state.pool)
            .await?;
    if two_factor == 0 {
        return Err(AppError::validation(
            "public_key",
            "Certificates are issued after a two-factor step-up: set up two-factor authentication first.",
        ));
    }
    let mut tx = begin_write(&state.pool).await?;
    let policy = super::policy_of(&mut tx, ctx.tenant_id()).await?;
    policy.check(&key).map_err(|why| AppError::validation("public_key", why))?;
    let minutes: i64 = sqlx::query_scalar("SELECT ssh_cert_minutes FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id().as_str())
        .fetch_one(&mut *tx)
        .await?;
    let (ca, serial) = tenant_ca(&mut tx, state, ctx.tenant_id().as_str()).await?;
    let now_s = state.clock.now_ms().div_euclid(1000);
    let (after, before) = (now_s - 60, now_s + minutes.clamp(1, MAX_MINUTES) * 60);
    let principal = sftp_user(ctx.actor(), ctx.tenant_name(), ctx.tenant_id().as_str());
    let key_id = format!("rampart member={} tenant={} serial={serial}", ctx.actor(), ctx.tenant_id());
    let req = CertRequest {
        key: &key,
        serial: u64::try_from(serial).unwrap_or(0),
        key_id: &key_id,
        principal: &principal,
        valid_after: u64::try_from(after).unwrap_or(0),
        valid_before: u64::try_from(before).unwrap_or(0),
    };
    let cert = sign(&ca, &req)?;
    sqlx::query(
        "INSERT INTO ssh_certificates (tenant_id, serial, membership_id, fingerprint, principal, valid_after, \
         valid_before, certificate, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(serial)
    .bind(ctx.membership_id().as_str())
    .bind(&key.fingerprint)
    .bind(&principal)
    .bind(after * 1000)
    .bind(before * 1000)
    .bind(&cert)
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "serial {serial} for {} ({}), principal {principal}, {minutes} min",
        key.fingerprint,
        key.key_type.name()
    );
    record(&mut tx, state, ctx.tenant_id(), ctx.actor(), meta, "ssh_cert.issued", &detail).await?;
    tx.commit().await?;
    Ok(cert)
}
