//! Machines enrolled with client certificates, and their one-time enrolment tokens.

use serde::{Deserialize, Serialize};

/// What a machine runs to enrol and make a first call, with `RAMPART_URL`, `ENROL_TOKEN` and a machines-only
/// `RAMPART_KEY` in its environment (the README shows these very lines, and a test runs them).
pub const ENROL_COMMANDS: &str = "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \\
  -keyout machine.key -subj /CN=machine -out machine.csr
curl --fail-with-body -H \"Authorization: Bearer $ENROL_TOKEN\" \\
  -H 'Content-Type: application/pkcs10' --data-binary @machine.csr \\
  -o machine.pem \"$RAMPART_URL/api/v1/machines/enrol\"
curl --fail-with-body --cert machine.pem --key machine.key \\
  -H \"Authorization: Bearer $RAMPART_KEY\" \"$RAMPART_URL/api/v1/members\"";

/// One enrolled machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineView {
    pub id: String,
    pub name: String,
    /// CIDR blocks its requests must come from (empty: anywhere).
    pub source_range: Vec<String>,
    pub cert_days: i64,
    pub created_by: String,
    pub created_at: i64,
    /// The newest certificate: its SHA-256 (hex) and end.
    pub fingerprint: String,
    pub not_after: i64,
    /// Less than a third of the certificate's validity is left (or it has ended): the machine should renew.
    pub renewal_due: bool,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_seen_at: Option<i64>,
    pub last_seen_ip: Option<String>,
}

/// An enrolment token not used yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineTokenView {
    pub id: String,
    pub name: String,
    pub source_range: Vec<String>,
    pub cert_days: i64,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// The Machines page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachinesView {
    pub machines: Vec<MachineView>,
    /// Tokens neither used, revoked nor expired.
    pub tokens: Vec<MachineTokenView>,
    /// The tenant's machine CA certificate (PEM) and its SHA-256, once made (with the first token).
    pub ca_pem: Option<String>,
    pub ca_fingerprint: Option<String>,
    /// This server asks TLS clients for certificates (false behind a TLS-terminating proxy).
    pub client_certs: bool,
    /// The origin machines reach the API at (for the enrolment example).
    pub api_origin: String,
}

/// A new enrolment token, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreshMachineToken {
    pub token_id: String,
    pub name: String,
    pub token: String,
}
