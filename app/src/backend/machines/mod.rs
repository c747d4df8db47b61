//! Machines with client certificates: "only requests from a valid machine are accepted" (APPSeCONNECT).
//!
//! Policy:
//! - Each tenant has its own X.509 machine CA (P-256), made with the first enrolment token; its private key is
//!   sealed under the master key like the SSH CA's, its certificate is downloadable.
//! - An owner or admin, stepped up, creates a one-time enrolment token (a name, an optional source range, a
//!   certificate validity of 30 to 90 days; the token lives at most 24 hours, is shown once and kept as its
//!   SHA-256 only). The machine makes its own key and posts a CSR with the token (`enrol`); Rampart checks the
//!   CSR's signature, keeps only its public key, and signs a client certificate with its own subject and SAN
//!   naming the tenant and the machine, the clientAuth EKU and nothing of the CSR's. The token dies with it.
//! - The TLS listener asks every client for a certificate and requires none; the REST gate looks the
//!   connection's certificate up by SHA-256 (`gate`): an enrolled machine of the key's tenant, not revoked,
//!   within the certificate's validity and the machine's source range. A key marked "machines only" works only
//!   over such a connection; a connection presenting any other certificate is refused whatever the key.
//! - Revocation is a database status read on every request (no CRL to distribute). A machine renews over mTLS
//!   before its certificate ends (`enrol::renew`); the replaced certificate keeps working for a day so that a
//!   lost answer can be retried, then it is refused.
//! - Every token, enrolment, renewal, revocation and refused machine is an access-history event; each machine
//!   keeps when and from where it was last seen.

pub mod ca;
pub mod enrol;
pub mod gate;
pub mod manage;

use crate::backend::platform::clock::DAY_MS;
use std::sync::Arc;

/// Validity of a machine certificate, in days.
pub const CERT_DAYS: std::ops::RangeInclusive<i64> = 30..=90;
/// Longest life of an enrolment token, in hours.
pub const MAX_TOKEN_HOURS: i64 = 24;
/// How long a certificate replaced by a renewal keeps working.
pub const REPLACED_GRACE_MS: i64 = DAY_MS;
/// Most enrolment tokens waiting at once in a tenant.
pub const MAX_OPEN_TOKENS: i64 = 50;

/// The certificate a TLS client presented on its connection (its SHA-256, hex), put on every request of that
/// connection by the listener.
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<str>);

/// The SHA-256 of a certificate's DER, in lower-case hex: how machine certificates are looked up.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(der))
}

/// Whether a certificate valid from `not_before` to `not_after` should be renewed at `now`: less than a third
/// of its validity is left.
pub fn renewal_due(not_before: i64, not_after: i64, now: i64) -> bool {
    now >= not_after - (not_after - not_before) / 3
}

#[cfg(test)]
mod tests {
    use super::renewal_due;
    use crate::backend::platform::clock::DAY_MS;

    #[test]
    fn renewal_is_due_in_the_last_third() {
        let start = 1_000 * DAY_MS;
        let end = start + 90 * DAY_MS;
        assert!(!renewal_due(start, end, start + 59 * DAY_MS));
        assert!(renewal_due(start, end, start + 60 * DAY_MS));
        assert!(renewal_due(start, end, end + 1));
    }
}
