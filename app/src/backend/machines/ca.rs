//! The tenant's machine CA: a P-256 key made (and sealed under the master key) with the tenant's first
//! enrolment token, and a self-signed CA certificate valid for ten years that may sign end-entity certificates
//! only (path length 0). It signs machine certificates whose subject and SAN it writes itself.

use crate::backend::platform::clock::DAY_MS;
use crate::backend::AppState;
use crate::model::AppError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use sqlx::{AnyConnection, Row as _};

/// How long a tenant's CA certificate is valid.
const CA_DAYS: i64 = 3650;

/// A tenant's CA, opened for signing.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ca")
    }
}

fn aad(tenant: &str) -> String {
    format!("rampart-machine-ca\n{tenant}")
}

fn when(ms: i64) -> Result<time::OffsetDateTime, AppError> {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).map_err(|_| AppError::Unavailable)
}

fn cert_err(err: rcgen::Error) -> AppError {
    tracing::error!(error = %err, "machine certificate not made");
    AppError::Unavailable
}

/// The tenant's CA certificate (PEM) and its SHA-256, if the CA was made.
pub async fn certificate(conn: &mut AnyConnection, tenant: &str) -> Result<Option<(String, String)>, AppError> {
    let row = sqlx::query("SELECT cert_pem, fingerprint FROM machine_cas WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("cert_pem")?, r.try_get("fingerprint")?)),
        None => None,
    })
}

/// Makes the tenant's CA if it has none yet (in the caller's write transaction).
pub async fn ensure(
    conn: &mut AnyConnection,
    state: &AppState,
    tenant: &str,
    tenant_name: &str,
) -> Result<(), AppError> {
    if certificate(conn, tenant).await?.is_some() {
        return Ok(());
    }
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
    let now = state.clock.now_ms();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Rampart machine CA");
    dn.push(DnType::OrganizationName, tenant_name.chars().take(64).collect::<String>());
    dn.push(DnType::OrganizationalUnitName, tenant);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = when(now - DAY_MS)?;
    params.not_after = when(now + CA_DAYS * DAY_MS)?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&rand::random::<[u8; 16]>()[..]));
    let cert = params.self_signed(&key).map_err(cert_err)?;
    let (seal_id, sealed) = state.keys.seal(aad(tenant).as_bytes(), &key.serialize_der())?;
    sqlx::query(
        "INSERT INTO machine_cas (tenant_id, cert_pem, sealed_key, seal_key_id, fingerprint, next_serial, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6)",
    )
    .bind(tenant)
    .bind(cert.pem())
    .bind(sealed)
    .bind(seal_id)
    .bind(super::fingerprint(cert.der()))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Opens the tenant's CA and takes its next serial (in the caller's write transaction).
async fn open(conn: &mut AnyConnection, state: &AppState, tenant: &str) -> Result<(Ca, i64), AppError> {
    // The serial is taken by the write itself: on PostgreSQL two issues at once each read the row as committed,
    // and a read before the increment gave both the same serial (RFC 5280 wants them unique per CA).
    let r = sqlx::query(
        "UPDATE machine_cas SET next_serial = next_serial + 1 WHERE tenant_id = $1 \
         RETURNING cert_pem, sealed_key, seal_key_id, next_serial - 1 AS serial",
    )
    .bind(tenant)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let der = state.keys.open(
        &r.try_get::<String, _>("seal_key_id")?,
        aad(tenant).as_bytes(),
        &r.try_get::<String, _>("sealed_key")?,
    )?;
    let key = KeyPair::try_from(der.as_slice()).map_err(cert_err)?;
    let params = CertificateParams::from_ca_cert_pem(&r.try_get::<String, _>("cert_pem")?).map_err(cert_err)?;
    // The issuer's name and key identifier come from these parameters; the signature is not kept.
    let cert = params.self_signed(&key).map_err(cert_err)?;
    let serial: i64 = r.try_get("serial")?;
    Ok((Ca { cert, key }, serial))
}

/// A public key from a certificate signing request whose signature was checked (proof that the requester
/// holds the private key). Everything else the request says is ignored.
pub struct CheckedCsr(rcgen::SubjectPublicKeyInfo);

impl std::fmt::Debug for CheckedCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckedCsr")
    }
}

/// Reads a CSR (PEM, or DER) and checks its self-signature; P-256, P-384, Ed25519 and RSA keys.
pub fn check_csr(body: &[u8]) -> Result<CheckedCsr, AppError> {
    use x509_parser::prelude::FromDer as _;
    let bad = |msg: &str| AppError::validation("csr", msg);
    let der = if body.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(body).map_err(|_| bad("The request is not a PEM or DER CSR."))?;
        let pem = pem_block(text, "CERTIFICATE REQUEST")
            .or_else(|| pem_block(text, "NEW CERTIFICATE REQUEST"))
            .ok_or_else(|| bad("The PEM holds no CERTIFICATE REQUEST."))?;
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, pem)
            .map_err(|_| bad("The PEM's base64 is damaged."))?
    } else {
        body.to_vec()
    };
    let (rest, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|_| bad("The request is not a PEM or DER CSR."))?;
    if !rest.is_empty() {
        return Err(bad("The CSR has trailing bytes."));
    }
    csr.verify_signature().map_err(|_| bad("The CSR's signature does not match its key."))?;
    let spki = rcgen::SubjectPublicKeyInfo::from_der(csr.certification_request_info.subject_pki.raw)
        .map_err(|_| bad("The CSR's key type is not supported: use P-256, P-384, Ed25519 or RSA."))?;
    Ok(CheckedCsr(spki))
}

/// The base64 body of the first PEM block labelled `label`.
fn pem_block(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    Some(text[start..stop].chars().filter(|c| !c.is_whitespace()).collect())
}

/// A signed machine certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub pem: String,
    pub fingerprint: String,
    pub serial: i64,
    pub not_before: i64,
    pub not_after: i64,
}

/// Signs a client certificate for machine `machine` of `tenant` and records it (in the caller's write
/// transaction): subject
/// `CN=<machine name>, OU=<machine id>, O=<tenant id>`, SAN `urn:rampart:machine:<tenant id>:<machine id>`,
/// clientAuth only, valid from a minute ago for `days` days.
pub async fn issue(
    conn: &mut AnyConnection,
    state: &AppState,
    tenant: &str,
    machine: (&str, &str),
    csr: &CheckedCsr,
    days: i64,
) -> Result<Issued, AppError> {
    let (ca, serial) = open(conn, state, tenant).await?;
    let now = state.clock.now_ms();
    let not_before = now - 60_000;
    let not_after = now + days * DAY_MS;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, machine.1.chars().take(64).collect::<String>());
    dn.push(DnType::OrganizationalUnitName, machine.0);
    dn.push(DnType::OrganizationName, tenant);
    params.distinguished_name = dn;
    let uri = format!("urn:rampart:machine:{tenant}:{}", machine.0);
    params.subject_alt_names = vec![SanType::URI(uri.try_into().map_err(cert_err)?)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = when(not_before)?;
    params.not_after = when(not_after)?;
    params.serial_number = Some(rcgen::SerialNumber::from(u64::try_from(serial).unwrap_or_default()));
    let cert = params.signed_by(&csr.0, &ca.cert, &ca.key).map_err(cert_err)?;
    let issued = Issued {
        fingerprint: super::fingerprint(cert.der()),
        pem: cert.pem(),
        serial,
        not_before: not_before - not_before.rem_euclid(1000),
        not_after: not_after - not_after.rem_euclid(1000),
    };
    sqlx::query(
        "INSERT INTO machine_certs (fingerprint, machine_id, tenant_id, serial, not_before, not_after, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&issued.fingerprint)
    .bind(machine.0)
    .bind(tenant)
    .bind(issued.serial)
    .bind(issued.not_before)
    .bind(issued.not_after)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(issued)
}
