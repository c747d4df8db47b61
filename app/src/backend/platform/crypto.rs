//! Small cryptographic helpers: random tokens, digests for storing them, constant-time comparison, and the
//! keys derived from the server master key (sealing TOTP secrets with AES-256-GCM, peppering recovery codes).
//! Tokens carry 256 bits from the OS CSPRNG (ASVS V3.2.2 asks for at least 64; NIST 800-63B §3.1.8 for 112).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// A fresh 256-bit token, URL-safe base64 without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hex SHA-256 of a high-entropy token: what the database stores instead of the token. A plain hash is
/// enough here because the input is 256 random bits, not a password.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Keys derived from the server master key, one per purpose (HMAC-SHA-256 of the master key over a label,
/// as in HKDF-Expand with a single block): a derived key that leaks reveals neither the master nor its siblings.
/// `Debug` prints no key material.
pub struct ServerKeys {
    /// The sealing key in use, with its id (stored beside every ciphertext so the master key can be rotated).
    seal_key: [u8; 32],
    seal_key_id: String,
    /// Older sealing keys still accepted for opening, by id.
    previous: Vec<(String, [u8; 32])>,
    recovery_pepper: [u8; 32],
    api_key_pepper: [u8; 32],
    /// Root of the access-history chain keys, current first, then those of previous masters (by id).
    audit_roots: Vec<(String, [u8; 32])>,
    throttle_key: [u8; 32],
    /// Wrapping keys of tenant vault data keys, current first, then those of previous masters (by id).
    vault_wraps: Vec<(String, [u8; 32])>,
    /// Key of the pseudonyms an erased member's records keep (`erased-<12 hex>`).
    erasure_key: [u8; 32],
    /// Seed of the Ed25519 key that signs data-export manifests (current master only).
    export_seed: [u8; 32],
    /// The key of backups when the operator gives none of their own (current master only).
    backup_key: [u8; 32],
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys").field("seal_key_id", &self.seal_key_id).finish_non_exhaustive()
    }
}

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

fn key_id(key: &[u8; 32]) -> String {
    format!("k1-{}", &hex::encode(Sha256::digest(key))[..12])
}

impl ServerKeys {
    /// Derives every purpose key from the master key; `previous` masters stay usable for opening old seals.
    pub fn from_master(master: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        let seal_key = derive(master, "rampart/seal/v1");
        Self {
            seal_key_id: key_id(&seal_key),
            seal_key,
            previous: previous
                .iter()
                .map(|m| {
                    let k = derive(m, "rampart/seal/v1");
                    (key_id(&k), k)
                })
                .collect(),
            recovery_pepper: derive(master, "rampart/recovery-codes/v1"),
            api_key_pepper: derive(master, "rampart/api-keys/v1"),
            audit_roots: std::iter::once(master)
                .chain(previous)
                .map(|m| {
                    let k = derive(m, "rampart/audit-chain/v1");
                    (key_id(&k), k)
                })
                .collect(),
            throttle_key: derive(master, "rampart/sign-in-throttle/v1"),
            vault_wraps: std::iter::once(master)
                .chain(previous)
                .map(|m| {
                    let k = derive(m, "rampart/vault-wrap/v1");
                    (key_id(&k), k)
                })
                .collect(),
            erasure_key: derive(master, "rampart/erasure-pseudonym/v1"),
            export_seed: derive(master, "rampart/export-signing/v1"),
            backup_key: derive(master, "rampart/backup/v1"),
        }
    }

    /// The key backups are encrypted and authenticated under, unless the operator set `backup_key`.
    pub fn backup_key(&self) -> &[u8; 32] {
        &self.backup_key
    }

    /// Encrypts with AES-256-GCM under the current sealing key and a fresh 96-bit nonce; `aad` binds the
    /// ciphertext to its row (e.g. the account id), so a sealed value copied to another row fails to open.
    /// Returns (key id, base64 of nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<(String, String), crate::model::AppError> {
        use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.seal_key).map_err(|_| internal("seal key"))?;
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(aes_gcm::Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .map_err(|_| internal("seal"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok((self.seal_key_id.clone(), base64::engine::general_purpose::STANDARD.encode(out)))
    }

    /// Decrypts what `seal` produced; tampering, a wrong row or an unknown key id is an internal error.
    pub fn open(&self, key_id: &str, aad: &[u8], sealed: &str) -> Result<Vec<u8>, crate::model::AppError> {
        use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
        let key = if key_id == self.seal_key_id {
            &self.seal_key
        } else {
            self.previous.iter().find(|(id, _)| id == key_id).map(|(_, k)| k).ok_or_else(|| internal("key id"))?
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| internal("sealed form"))?;
        if bytes.len() < 12 + 16 {
            return Err(internal("sealed length"));
        }
        let (nonce, ct) = bytes.split_at(12);
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| internal("seal key"))?;
        cipher.decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| internal("open"))
    }

    /// The id of the current sealing key.
    pub fn seal_key_id(&self) -> &str {
        &self.seal_key_id
    }

    /// The stored form of a recovery code: HMAC-SHA-256 under a server pepper, so a copy of the database alone
    /// does not allow guessing codes offline.
    pub fn recovery_code_digest(&self, code: &str) -> String {
        use hmac::Mac as _;
        let mut mac =
            <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.recovery_pepper).unwrap_or_else(|_| unreachable!());
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl ServerKeys {
    /// The stored form of an API key: HMAC-SHA-256 under a server pepper (hex). A copy of the database holds
    /// nothing that opens the API, and guessing keys offline needs the master key too.
    pub fn api_key_digest(&self, key: &str) -> String {
        use hmac::Mac as _;
        let mut mac =
            <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.api_key_pepper).unwrap_or_else(|_| unreachable!());
        mac.update(key.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl ServerKeys {
    /// The key that chains `chain`'s events now (`chain` is a tenant id, or `-` for events without a tenant),
    /// with its id: derived from the current master, one key per chain, so a tenant's key (handed to its owner
    /// for offline verification) opens no other tenant's chain.
    pub fn audit_chain_key(&self, chain: &str) -> (&str, [u8; 32]) {
        let (id, root) = self.audit_roots.first().map(|(i, k)| (i.as_str(), k)).unwrap_or(("", &[0; 32]));
        (id, derive(root, &format!("chain:{chain}")))
    }

    /// The chain key of an older event, by the id stored beside it (`None`: a master this server no longer has).
    pub fn audit_chain_key_by_id(&self, key_id: &str, chain: &str) -> Option<[u8; 32]> {
        self.audit_roots.iter().find(|(i, _)| i == key_id).map(|(_, root)| derive(root, &format!("chain:{chain}")))
    }

    /// Every chain key of `chain` this server holds, current first, with their ids.
    pub fn audit_chain_keys(&self, chain: &str) -> Vec<(String, [u8; 32])> {
        self.audit_roots.iter().map(|(i, root)| (i.clone(), derive(root, &format!("chain:{chain}")))).collect()
    }

    /// The stored name of a sign-in throttling counter: HMAC-SHA-256 of its scope (which holds a normalised
    /// email, and maybe an IP) under a server key, so the table names no one and an unknown email gets a
    /// counter exactly like a known one.
    pub fn throttle_digest(&self, scope: &str) -> String {
        use hmac::Mac as _;
        let mut mac =
            <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.throttle_key).unwrap_or_else(|_| unreachable!());
        mac.update(scope.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl ServerKeys {
    /// Wraps a tenant's vault data key under the current master: (wrapping key id, base64 of nonce ‖ ciphertext
    /// ‖ tag). The tenant id and key version are bound in, so a wrapped key copied to another row fails to open.
    pub fn wrap_data_key(
        &self,
        tenant_id: &str,
        version: i64,
        key: &[u8; 32],
    ) -> Result<(String, String), crate::model::AppError> {
        let (id, wrap) = self.vault_wraps.first().ok_or_else(|| internal("no wrapping key"))?;
        let sealed = seal_with(wrap, &wrap_aad(tenant_id, version), key)?;
        Ok((id.clone(), sealed))
    }

    /// Opens a wrapped data key, under whichever master (current or previous) `wrap_key_id` names.
    pub fn unwrap_data_key(
        &self,
        wrap_key_id: &str,
        tenant_id: &str,
        version: i64,
        wrapped: &str,
    ) -> Result<[u8; 32], crate::model::AppError> {
        let wrap = self.vault_wraps.iter().find(|(i, _)| i == wrap_key_id).map(|(_, k)| k);
        let wrap = wrap.ok_or_else(|| internal("unknown vault wrapping key"))?;
        let plain = open_with(wrap, &wrap_aad(tenant_id, version), wrapped)?;
        plain.try_into().map_err(|_| internal("wrapped key length"))
    }

    /// The id of the current vault wrapping key (rows under another id are due for re-wrapping).
    pub fn vault_wrap_key_id(&self) -> &str {
        self.vault_wraps.first().map(|(i, _)| i.as_str()).unwrap_or("")
    }
}

impl ServerKeys {
    /// The key that signs data-export manifests (Ed25519, RFC 8032), derived from the current master: anyone
    /// holding the published public key (`/.well-known/rampart-export-key`) can check an export offline. A new
    /// master means a new signing key; exports signed before keep verifying with the key published then.
    pub fn export_signing_key(&self) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&self.export_seed)
    }

    /// The export signing key's public half as PEM (SubjectPublicKeyInfo, RFC 8410), what `openssl` reads.
    pub fn export_public_key_pem(&self) -> String {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        self.export_signing_key()
            .verifying_key()
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap_or_default()
    }
}

fn wrap_aad(tenant_id: &str, version: i64) -> Vec<u8> {
    format!("rampart-data-key-v1\n{tenant_id}\n{version}").into_bytes()
}

fn seal_with(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<String, crate::model::AppError> {
    use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| internal("wrap key"))?;
    let nonce: [u8; 12] = random_bytes();
    let ct = cipher
        .encrypt(aes_gcm::Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .map_err(|_| internal("wrap"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

fn open_with(key: &[u8; 32], aad: &[u8], sealed: &str) -> Result<Vec<u8>, crate::model::AppError> {
    use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| internal("wrapped form"))?;
    if bytes.len() < 12 + 16 {
        return Err(internal("wrapped length"));
    }
    let (nonce, ct) = bytes.split_at(12);
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| internal("wrap key"))?;
    cipher.decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| internal("unwrap"))
}

impl ServerKeys {
    /// The pseudonym of an erased member in one tenant: `erased-` and 12 hex digits of an HMAC (server key) of
    /// the tenant and account ids. Stable (every event of the member gets the same one, and erasing again gives
    /// it again), different per tenant (two tenants' histories cannot be joined on it), and not reversible
    /// without the master key (and then only by trying account ids, which name no one once erased).
    pub fn erasure_pseudonym(&self, tenant_id: &str, account_id: &str) -> String {
        use hmac::Mac as _;
        let mut mac =
            <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.erasure_key).unwrap_or_else(|_| unreachable!());
        mac.update(tenant_id.as_bytes());
        mac.update(b"\n");
        mac.update(account_id.as_bytes());
        format!("erased-{}", &hex::encode(mac.finalize().into_bytes())[..12])
    }
}

#[track_caller]
fn internal(what: &str) -> crate::model::AppError {
    super::failure::internal("cryptography", what)
}

/// Fills a fresh buffer from the OS CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_row_and_key() -> Result<(), Box<dyn std::error::Error>> {
        let keys = ServerKeys::from_master(&[7u8; 32], &[]);
        let (kid, sealed) = keys.seal(b"account-1", b"JBSWY3DPEHPK3PXP")?;
        assert_eq!(kid, keys.seal_key_id());
        assert!(!sealed.contains("JBSWY3DP"));
        assert_eq!(keys.open(&kid, b"account-1", &sealed)?, b"JBSWY3DPEHPK3PXP");
        assert!(keys.open(&kid, b"account-2", &sealed).is_err(), "bound to its row");
        let mut tampered = base64::engine::general_purpose::STANDARD.decode(&sealed)?;
        tampered[14] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(tampered);
        assert!(keys.open(&kid, b"account-1", &tampered).is_err(), "tampering is detected");
        let rotated = ServerKeys::from_master(&[8u8; 32], &[[7u8; 32]]);
        assert_ne!(rotated.seal_key_id(), kid);
        assert_eq!(rotated.open(&kid, b"account-1", &sealed)?, b"JBSWY3DPEHPK3PXP", "old key still opens");
        assert!(ServerKeys::from_master(&[9u8; 32], &[]).open(&kid, b"account-1", &sealed).is_err());
        Ok(())
    }

    #[test]
    fn erasure_pseudonyms_are_stable_per_tenant_and_keyed() {
        let a = ServerKeys::from_master(&[1u8; 32], &[]);
        let p = a.erasure_pseudonym("t1", "acc");
        assert_eq!(p, a.erasure_pseudonym("t1", "acc"));
        assert!(p.starts_with("erased-") && p.len() == 19, "{p}");
        assert_ne!(p, a.erasure_pseudonym("t2", "acc"));
        assert_ne!(p, ServerKeys::from_master(&[2u8; 32], &[]).erasure_pseudonym("t1", "acc"));
    }

    #[test]
    fn export_signatures_verify_with_the_published_key_only() -> Result<(), Box<dyn std::error::Error>> {
        use ed25519_dalek::{Signer as _, Verifier as _};
        let keys = ServerKeys::from_master(&[3u8; 32], &[]);
        let sig = keys.export_signing_key().sign(b"manifest");
        let public = keys.export_signing_key().verifying_key();
        public.verify(b"manifest", &sig)?;
        assert!(public.verify(b"manifest!", &sig).is_err());
        let other = ServerKeys::from_master(&[4u8; 32], &[]).export_signing_key().verifying_key();
        assert!(other.verify(b"manifest", &sig).is_err(), "one key per master");
        let pem = keys.export_public_key_pem();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(b64)?;
        assert_eq!(der.len(), 44);
        assert_eq!(&der[12..], public.as_bytes());
        Ok(())
    }

    #[test]
    fn recovery_digests_are_keyed() {
        let a = ServerKeys::from_master(&[1u8; 32], &[]);
        let b = ServerKeys::from_master(&[2u8; 32], &[]);
        assert_eq!(a.recovery_code_digest("abcd-efgh"), a.recovery_code_digest("abcd-efgh"));
        assert_ne!(a.recovery_code_digest("abcd-efgh"), b.recovery_code_digest("abcd-efgh"));
    }

    #[test]
    fn tokens_are_long_unique_and_url_safe() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn digest_is_stable_and_not_the_token() {
        let t = random_token();
        assert_eq!(token_digest(&t), token_digest(&t));
        assert_ne!(token_digest(&t), t);
        assert_eq!(token_digest(&t).len(), 64);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
