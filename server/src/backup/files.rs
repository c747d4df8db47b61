//! The backup's encrypted files: written from a stream, read back into one, each with its SHA-256 as stored.

use super::{BackupError, FileEntry};
use app::backend::vault::cipher::{Decryptor, Encryptor};
use sha2::{Digest as _, Sha256};
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The associated data of a backup file: its path inside the backup.
fn aad(path: &str) -> Vec<u8> {
    format!("rampart-backup-v1\n{path}").into_bytes()
}

/// Encrypts everything `src` yields into `root/path` (created with mode 0600); returns its manifest entry.
pub async fn write(
    root: &Path,
    path: &str,
    key: &[u8; 32],
    mut src: impl AsyncRead + Unpin,
) -> Result<FileEntry, BackupError> {
    let target = root.join(path);
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut opts = tokio::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut file = opts.open(&target).await?;
    let mut enc = Encryptor::new(key, aad(path));
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut input = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(2 << 20);
    loop {
        let n = src.read(&mut input).await?;
        if n == 0 {
            break;
        }
        enc.push(&input[..n], &mut out);
        if !out.is_empty() {
            hash.update(&out);
            bytes += out.len() as u64;
            file.write_all(&out).await?;
            out.clear();
        }
    }
    enc.finish(&mut out);
    hash.update(&out);
    bytes += out.len() as u64;
    file.write_all(&out).await?;
    file.sync_all().await?;
    Ok(FileEntry { path: path.to_owned(), bytes, sha256: hex::encode(hash.finalize()) })
}

/// Checks `root/<entry.path>` against its entry (size and SHA-256), naming the file when it differs.
pub async fn check(root: &Path, entry: &FileEntry) -> Result<(), BackupError> {
    let mut file = tokio::fs::File::open(root.join(&entry.path))
        .await
        .map_err(|e| BackupError::Damaged(format!("{}: {e}", entry.path)))?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        bytes += n as u64;
    }
    if bytes != entry.bytes || hex::encode(hash.finalize()) != entry.sha256 {
        return Err(BackupError::Damaged(format!(
            "{}: its contents differ from the manifest ({bytes} bytes; the manifest says {})",
            entry.path, entry.bytes
        )));
    }
    Ok(())
}

/// Decrypts `root/path` into `dst`, failing at the first chunk that is not authentic.
pub async fn read(
    root: &Path,
    path: &str,
    key: &[u8; 32],
    mut dst: impl AsyncWrite + Unpin,
) -> Result<u64, BackupError> {
    let mut file =
        tokio::fs::File::open(root.join(path)).await.map_err(|e| BackupError::Damaged(format!("{path}: {e}")))?;
    let mut dec = Decryptor::new(key, aad(path));
    let mut input = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(2 << 20);
    let mut written = 0u64;
    let damaged = |e: app::backend::vault::cipher::CipherError| BackupError::Damaged(format!("{path}: {e}"));
    loop {
        let n = file.read(&mut input).await?;
        if n == 0 {
            break;
        }
        dec.push(&input[..n], &mut out).map_err(damaged)?;
        if !out.is_empty() {
            written += out.len() as u64;
            dst.write_all(&out).await?;
            out.clear();
        }
    }
    dec.finish(&mut out).map_err(damaged)?;
    written += out.len() as u64;
    dst.write_all(&out).await?;
    dst.flush().await?;
    Ok(written)
}
