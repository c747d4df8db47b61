//! TLS with rustls: TLS 1.3 and 1.2 only, rustls' default (AEAD-only, forward-secret) suites on the ring
//! provider in the server's order, ALPN for HTTP/2 and HTTP/1.1. Without a configured certificate, a
//! self-signed development certificate for localhost/127.0.0.1/::1, valid for 90 days, is generated into
//! `data_dir/tls/` (key mode 0600) and generated again at start once it is 60 days old.
//!
//! Client certificates: the listener asks every client for one and requires none, so browsers are unaffected
//! (`AnyClientCertificate`). The handshake proves the client holds the certificate's private key; whether the
//! certificate is worth anything is decided per request by the REST gate, which looks its SHA-256 up among the
//! machine certificates the tenants' CAs issued (`app::backend::machines`).

use crate::startup::config::Settings;
use crate::startup::secrets::write_private;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the certificate and key come from.
pub fn cert_paths(settings: &Settings) -> Result<(PathBuf, PathBuf), String> {
    if let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) {
        return Ok((cert.clone(), key.clone()));
    }
    let dir = settings.data_dir.join("tls");
    let cert = dir.join("dev-cert.pem");
    let key = dir.join("dev-key.pem");
    let age = std::fs::metadata(&cert).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    let stale = age.is_none_or(|a| a > std::time::Duration::from_secs(60 * 86_400));
    if stale || !key.exists() {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        let mut params = rcgen::CertificateParams::new(names).map_err(|e| format!("generating certificate: {e}"))?;
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(90);
        let key_pair = rcgen::KeyPair::generate().map_err(|e| format!("generating certificate: {e}"))?;
        let generated = params.self_signed(&key_pair).map_err(|e| format!("generating certificate: {e}"))?;
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(&cert);
        write_private(&key, key_pair.serialize_pem().as_bytes()).map_err(|e| format!("{}: {e}", key.display()))?;
        std::fs::write(&cert, generated.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
        tracing::info!(path = %cert.display(), "generated a self-signed development certificate");
    }
    Ok((cert, key))
}

/// Builds the rustls server configuration.
pub fn server_config(settings: &Settings) -> Result<Arc<ServerConfig>, String> {
    let (cert_path, key_path) = cert_paths(settings)?;
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls_cert {}: {e}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| format!("tls_key {}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyClientCertificate { algorithms: provider.signature_verification_algorithms });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_cert/tls_key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The server's order of suites (rustls': TLS 1.3's, then ECDHE with AES-GCM and ChaCha20-Poly1305).
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// Asks for a client certificate, requires none, and accepts any whose handshake signature verifies: the
/// chain is not judged here (each tenant has its own CA, and a machine's status lives in the database).
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::cert_paths;
    use crate::startup::config::Settings;
    use std::time::{Duration, SystemTime};

    /// The development certificate is made once, kept while young, and made again once 60 days old.
    #[test]
    fn the_development_certificate_is_renewed_at_60_days() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings { data_dir: dir.path().to_owned(), ..Settings::default() };
        let (cert, _) = cert_paths(&settings).unwrap();
        let first = std::fs::read(&cert).unwrap();
        let age = |days: u64| {
            let file = std::fs::File::options().write(true).open(&cert).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(days * 86_400)).unwrap();
        };
        age(59);
        cert_paths(&settings).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), first, "kept at 59 days");
        age(61);
        cert_paths(&settings).unwrap();
        assert_ne!(std::fs::read(&cert).unwrap(), first, "made again at 61 days");
    }
}
