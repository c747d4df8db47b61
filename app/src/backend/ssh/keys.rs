//! SSH public keys as members give them (a line `type base64 [comment]`, as in `~/.ssh/id_ed25519.pub` or
//! GitHub's `<user>.keys`): parsed from the wire format (RFC 4253 §6.6, RFC 5656, RFC 8709, OpenSSH's
//! PROTOCOL.u2f), fingerprinted as `ssh-keygen -lf` prints it (`SHA256:` + unpadded base64 of the blob's
//! SHA-256), and held to the key policy:
//!
//! - standard: ed25519, ECDSA on P-256/384/521, the security-key types `sk-ssh-ed25519@openssh.com` and
//!   `sk-ecdsa-sha2-nistp256@openssh.com`, and RSA of 3072 bits or more (which the SFTP gateway accepts only
//!   with rsa-sha2-256/512 signatures); DSA and shorter RSA are refused with the reason;
//! - security keys only: the two `sk-` types.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The longest line looked at (an RSA 16384-bit key is about 2.8 KB).
pub const MAX_LINE: usize = 8192;

/// A key's algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyType {
    Ed25519,
    Ecdsa(u32),
    SkEd25519,
    SkEcdsaP256,
    Rsa,
    Dsa,
}

impl KeyType {
    /// The name as in the key line.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ed25519 => "ssh-ed25519",
            Self::Ecdsa(256) => "ecdsa-sha2-nistp256",
            Self::Ecdsa(384) => "ecdsa-sha2-nistp384",
            Self::Ecdsa(_) => "ecdsa-sha2-nistp521",
            Self::SkEd25519 => "sk-ssh-ed25519@openssh.com",
            Self::SkEcdsaP256 => "sk-ecdsa-sha2-nistp256@openssh.com",
            Self::Rsa => "ssh-rsa",
            Self::Dsa => "ssh-dss",
        }
    }

    /// Whether the private half lives in a hardware security key.
    pub fn is_security_key(&self) -> bool {
        matches!(self, Self::SkEd25519 | Self::SkEcdsaP256)
    }
}

/// A parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key_type: KeyType,
    /// The key's size in bits (RSA: the modulus).
    pub bits: u32,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// The key blob (what the SSH protocol carries).
    pub blob: Vec<u8>,
    pub comment: String,
}

impl PublicKey {
    /// The line without its comment: `type base64`.
    pub fn openssh(&self) -> String {
        format!("{} {}", self.key_type.name(), base64::engine::general_purpose::STANDARD.encode(&self.blob))
    }
}

/// What a tenant accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    Standard,
    SecurityKeysOnly,
}

impl KeyPolicy {
    pub fn parse(s: &str) -> Self {
        if s == "security_keys_only" {
            Self::SecurityKeysOnly
        } else {
            Self::Standard
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::SecurityKeysOnly => "security_keys_only",
        }
    }

    /// `Err(reason)` when the key breaks the policy.
    pub fn check(self, key: &PublicKey) -> Result<(), String> {
        match (&key.key_type, self) {
            (KeyType::Dsa, _) => Err("DSA keys are refused: 1024 bits and SHA-1 signatures are broken. Use an \
                                      ed25519 key (ssh-keygen -t ed25519)."
                .to_owned()),
            (KeyType::Rsa, _) if key.bits < 3072 => Err(format!(
                "RSA keys need at least 3072 bits; this one has {}. Use an ed25519 key (ssh-keygen -t ed25519).",
                key.bits
            )),
            (t, KeyPolicy::SecurityKeysOnly) if !t.is_security_key() => {
                Err("This organisation accepts security keys only (sk-ssh-ed25519 or sk-ecdsa-sha2-nistp256: \
                 ssh-keygen -t ed25519-sk)."
                    .to_owned())
            }
            _ => Ok(()),
        }
    }
}

/// Why a line is not a usable public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Paste one public key line, like `ssh-ed25519 AAAA… you@laptop`.")]
    Shape,
    #[error("The key data is not valid base64.")]
    Base64,
    #[error("The key data is damaged or does not match its type.")]
    Blob,
    #[error("Keys of type {0} are not supported.")]
    Unsupported(String),
}

/// A cursor over the wire format.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        let (len, rest) = self.0.split_at_checked(4).ok_or(KeyError::Blob)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| KeyError::Blob)?) as usize;
        let (s, rest) = rest.split_at_checked(len).ok_or(KeyError::Blob)?;
        self.0 = rest;
        Ok(s)
    }

    fn end(&self) -> Result<(), KeyError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(KeyError::Blob)
        }
    }
}

/// The bit length of an SSH `mpint` (big-endian, a leading zero byte for a positive number whose top bit is set).
fn mpint_bits(m: &[u8]) -> u32 {
    let m = match m.iter().position(|b| *b != 0) {
        Some(i) => &m[i..],
        None => return 0,
    };
    (m.len() as u32 - 1) * 8 + (8 - m[0].leading_zeros())
}

/// Parses one key line (`type base64 [comment]`); authorized_keys options in front are refused.
pub fn parse(line: &str) -> Result<PublicKey, KeyError> {
    let line = line.trim();
    if line.is_empty() || line.len() > MAX_LINE || line.contains(['\n', '\r']) {
        return Err(KeyError::Shape);
    }
    let mut parts = line.splitn(3, [' ', '\t']);
    let (Some(named), Some(data)) = (parts.next(), parts.next()) else { return Err(KeyError::Shape) };
    if named.contains(['=', '"', ',']) {
        return Err(KeyError::Shape); // authorized_keys options: not for a key store
    }
    let comment = parts.next().unwrap_or("").trim().chars().filter(|c| !c.is_control()).take(200).collect();
    let blob = base64::engine::general_purpose::STANDARD.decode(data.trim()).map_err(|_| KeyError::Base64)?;
    let mut r = Reader(&blob);
    let inner = std::str::from_utf8(r.string()?).map_err(|_| KeyError::Blob)?;
    if inner != named {
        return Err(KeyError::Blob);
    }
    let (key_type, bits) = match inner {
        "ssh-ed25519" => {
            if r.string()?.len() != 32 {
                return Err(KeyError::Blob);
            }
            (KeyType::Ed25519, 256)
        }
        "sk-ssh-ed25519@openssh.com" => {
            if r.string()?.len() != 32 {
                return Err(KeyError::Blob);
            }
            r.string()?; // the application, e.g. "ssh:"
            (KeyType::SkEd25519, 256)
        }
        "ecdsa-sha2-nistp256"
        | "ecdsa-sha2-nistp384"
        | "ecdsa-sha2-nistp521"
        | "sk-ecdsa-sha2-nistp256@openssh.com" => {
            let curve = r.string()?;
            let (bits, point) = match curve {
                b"nistp256" => (256, 65),
                b"nistp384" => (384, 97),
                b"nistp521" => (521, 133),
                _ => return Err(KeyError::Blob),
            };
            if !inner.contains(std::str::from_utf8(curve).map_err(|_| KeyError::Blob)?) {
                return Err(KeyError::Blob);
            }
            let q = r.string()?;
            if q.len() != point || q[0] != 4 {
                return Err(KeyError::Blob);
            }
            if inner.starts_with("sk-") {
                r.string()?;
                (KeyType::SkEcdsaP256, 256)
            } else {
                (KeyType::Ecdsa(bits), bits)
            }
        }
        "ssh-rsa" => {
            let e = r.string()?;
            let n = r.string()?;
            if e.is_empty() || n.is_empty() {
                return Err(KeyError::Blob);
            }
            (KeyType::Rsa, mpint_bits(n))
        }
        "ssh-dss" => {
            let p = r.string()?;
            for _ in 0..3 {
                r.string()?;
            }
            (KeyType::Dsa, mpint_bits(p))
        }
        other => return Err(KeyError::Unsupported(other.chars().take(64).collect())),
    };
    r.end()?;
    let digest = Sha256::digest(&blob);
    let fingerprint = format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest));
    Ok(PublicKey { key_type, bits, fingerprint, blob, comment })
}

#[cfg(test)]
mod tests;
