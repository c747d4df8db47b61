//! The vault's file format: a body encrypted in authenticated chunks, so a file of any size streams through in
//! constant memory and any change to the stored bytes is detected at the chunk it touches.
//!
//! Layout: a 41-byte header `RVLT` ‖ format 1 ‖ chunk size (u32, big-endian) ‖ a random 32-byte salt, then the
//! chunks. Each chunk is the AES-256-GCM ciphertext of up to `chunk size` plaintext bytes followed by its 16-byte
//! tag. The file key is HMAC-SHA-256(tenant data key, "rampart/vault-file/v1" ‖ salt), fresh for every blob, so
//! nonces never repeat across files. A chunk's nonce is its index (u64, big-endian) ‖ a 4-byte flag that is 1 on
//! the last chunk only (the STREAM construction): reordering, dropping or truncating chunks fails to decrypt.
//! Every chunk's associated data names the blob (tenant id and blob id), so a blob copied under another name or
//! to another tenant fails too. An empty file is one empty last chunk.

use aes_gcm::aead::{AeadInPlace as _, KeyInit as _};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

/// Plaintext bytes per chunk (1 MiB).
pub const CHUNK_SIZE: usize = 1 << 20;
const MAGIC: &[u8; 4] = b"RVLT";
const FORMAT: u8 = 1;
/// Bytes before the first chunk.
pub const HEADER_LEN: usize = 4 + 1 + 4 + 32;
/// The tag each chunk carries.
pub const TAG_LEN: usize = 16;

/// Why a stored body could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the stored body is not a vault file")]
    Header,
    #[error("chunk {0} failed authentication: the stored body was altered, truncated or belongs elsewhere")]
    Tampered(u64),
    #[error("the stored body ends early")]
    Truncated,
}

fn file_cipher(data_key: &[u8; 32], salt: &[u8; 32]) -> Aes256Gcm {
    use hmac::Mac as _;
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(data_key).unwrap_or_else(|_| unreachable!());
    mac.update(b"rampart/vault-file/v1");
    mac.update(salt);
    let key: [u8; 32] = mac.finalize().into_bytes().into();
    Aes256Gcm::new(&key.into())
}

fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// The associated data binding every chunk to its blob.
pub fn blob_aad(tenant_id: &str, blob: &str) -> Vec<u8> {
    format!("rampart-vault-v1\n{tenant_id}\n{blob}").into_bytes()
}

/// Encrypts a body fed in pieces of any size; `push` returns whole encrypted chunks as they fill.
pub struct Encryptor {
    cipher: Aes256Gcm,
    aad: Vec<u8>,
    index: u64,
    buf: Vec<u8>,
    header: Option<[u8; HEADER_LEN]>,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor").field("index", &self.index).finish_non_exhaustive()
    }
}

impl Encryptor {
    /// A new blob under `data_key`, with a fresh salt.
    pub fn new(data_key: &[u8; 32], aad: Vec<u8>) -> Self {
        let salt: [u8; 32] = crate::backend::platform::crypto::random_bytes();
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(MAGIC);
        header[4] = FORMAT;
        header[5..9].copy_from_slice(&(CHUNK_SIZE as u32).to_be_bytes());
        header[9..].copy_from_slice(&salt);
        Self {
            cipher: file_cipher(data_key, &salt),
            aad,
            index: 0,
            buf: Vec::with_capacity(CHUNK_SIZE + TAG_LEN),
            header: Some(header),
        }
    }

    /// Feeds plaintext; appends to `out` the header (first call) and every chunk that is now complete. A full
    /// chunk is held back until more data arrives, since only then is it known not to be the last.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
        while !data.is_empty() {
            if self.buf.len() == CHUNK_SIZE {
                self.seal_into(false, out);
            }
            let take = (CHUNK_SIZE - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
    }

    /// Ends the body: appends the last chunk (and the header, for an empty body).
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if let Some(h) = self.header.take() {
            out.extend_from_slice(&h);
        }
        self.seal_into(true, out);
    }

    fn seal_into(&mut self, last: bool, out: &mut Vec<u8>) {
        let n = nonce(self.index, last);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(&n), &self.aad, &mut self.buf)
            .unwrap_or_else(|_| unreachable!("AES-GCM encrypts any chunk under 64 GiB"));
        out.extend_from_slice(&self.buf);
        out.extend_from_slice(&tag);
        self.buf.clear();
        self.index += 1;
    }
}

/// Decrypts a stored body fed in pieces of any size; `push` returns plaintext of every chunk it can prove
/// authentic, `finish` checks the body ended with a last chunk.
pub struct Decryptor {
    key: [u8; 32],
    cipher: Option<Aes256Gcm>,
    aad: Vec<u8>,
    index: u64,
    chunk: usize,
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor").field("index", &self.index).finish_non_exhaustive()
    }
}

impl Decryptor {
    pub fn new(data_key: &[u8; 32], aad: Vec<u8>) -> Self {
        Self {
            key: *data_key,
            cipher: None,
            aad,
            index: 0,
            chunk: 0,
            buf: Vec::with_capacity(2 * (CHUNK_SIZE + TAG_LEN)),
            done: false,
        }
    }

    /// Feeds stored bytes; appends authenticated plaintext to `out`. A chunk is opened once the bytes after it
    /// show whether it is the last one.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), CipherError> {
        self.buf.extend_from_slice(data);
        if self.cipher.is_none() {
            if self.buf.len() < HEADER_LEN {
                return Ok(());
            }
            self.read_header()?;
        }
        let sealed = self.chunk + TAG_LEN;
        let mut start = 0;
        while self.buf.len() - start > sealed {
            if self.done {
                return Err(CipherError::Tampered(self.index));
            }
            self.open_at(start, sealed, false, out)?;
            start += sealed;
        }
        self.buf.drain(..start);
        Ok(())
    }

    /// Ends the stored body: opens the last chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), CipherError> {
        if self.cipher.is_none() {
            if self.buf.len() < HEADER_LEN {
                return Err(CipherError::Truncated);
            }
            self.read_header()?;
        }
        if self.done {
            return if self.buf.is_empty() { Ok(()) } else { Err(CipherError::Tampered(self.index)) };
        }
        if self.buf.len() < TAG_LEN {
            return Err(CipherError::Truncated);
        }
        let len = self.buf.len();
        self.open_at(0, len, true, out)
    }

    fn read_header(&mut self) -> Result<(), CipherError> {
        if &self.buf[..4] != MAGIC || self.buf[4] != FORMAT {
            return Err(CipherError::Header);
        }
        let chunk = u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]) as usize;
        if chunk == 0 || chunk > 64 << 20 {
            return Err(CipherError::Header);
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&self.buf[9..HEADER_LEN]);
        self.cipher = Some(file_cipher(&self.key, &salt));
        self.chunk = chunk;
        self.buf.drain(..HEADER_LEN);
        Ok(())
    }

    fn open_at(&mut self, start: usize, len: usize, last: bool, out: &mut Vec<u8>) -> Result<(), CipherError> {
        let Some(cipher) = &self.cipher else { return Err(CipherError::Header) };
        let body_end = start + len - TAG_LEN;
        let tag = Tag::clone_from_slice(&self.buf[body_end..start + len]);
        let from = out.len();
        out.extend_from_slice(&self.buf[start..body_end]);
        let n = nonce(self.index, last);
        cipher.decrypt_in_place_detached(Nonce::from_slice(&n), &self.aad, &mut out[from..], &tag).map_err(|_| {
            out.truncate(from);
            CipherError::Tampered(self.index)
        })?;
        self.index += 1;
        self.done = last;
        Ok(())
    }
}

/// The stored size of a body of `len` plaintext bytes.
pub fn sealed_len(len: u64) -> u64 {
    let chunks = if len == 0 { 1 } else { len.div_ceil(CHUNK_SIZE as u64) };
    HEADER_LEN as u64 + len + chunks * TAG_LEN as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key: &[u8; 32], aad: &[u8], body: &[u8], piece: usize) -> Vec<u8> {
        let mut e = Encryptor::new(key, aad.to_vec());
        let mut out = Vec::new();
        for p in body.chunks(piece.max(1)) {
            e.push(p, &mut out);
        }
        e.finish(&mut out);
        out
    }

    fn open(key: &[u8; 32], aad: &[u8], stored: &[u8], piece: usize) -> Result<Vec<u8>, CipherError> {
        let mut d = Decryptor::new(key, aad.to_vec());
        let mut out = Vec::new();
        for p in stored.chunks(piece.max(1)) {
            d.push(p, &mut out)?;
        }
        d.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn bodies_round_trip_at_every_boundary() -> Result<(), CipherError> {
        let key = [7u8; 32];
        for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 5] {
            let body: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            for piece in [1000, 65_536, CHUNK_SIZE + 3] {
                let stored = seal(&key, b"a", &body, piece);
                assert_eq!(stored.len() as u64, sealed_len(len as u64), "len {len}");
                assert_eq!(open(&key, b"a", &stored, piece * 2 / 3)?, body, "len {len} piece {piece}");
            }
        }
        Ok(())
    }

    #[test]
    fn any_change_is_detected() {
        let key = [9u8; 32];
        let body = vec![5u8; 2 * CHUNK_SIZE + 10];
        let stored = seal(&key, b"blob", &body, 4096);
        for at in [HEADER_LEN + 3, HEADER_LEN + CHUNK_SIZE + TAG_LEN + 1, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 1;
            assert!(matches!(open(&key, b"blob", &bad, 8192), Err(CipherError::Tampered(_))), "flip at {at}");
        }
        let salt_flip = {
            let mut bad = stored.clone();
            bad[20] ^= 1;
            bad
        };
        assert!(open(&key, b"blob", &salt_flip, 8192).is_err());
        assert!(open(&key, b"other", &stored, 8192).is_err(), "moved to another blob");
        assert!(open(&[1u8; 32], b"blob", &stored, 8192).is_err(), "wrong key");
        let cut = &stored[..HEADER_LEN + CHUNK_SIZE + TAG_LEN];
        assert!(open(&key, b"blob", cut, 8192).is_err(), "dropped last chunks");
        let mut extra = stored.clone();
        extra.extend_from_slice(&[0u8; 40]);
        assert!(open(&key, b"blob", &extra, 8192).is_err(), "appended bytes");
        assert_eq!(open(&key, b"blob", &stored[..10], 8192), Err(CipherError::Truncated));
    }
}
