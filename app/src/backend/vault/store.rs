//! Where ciphertext lives. The vault talks to a [`BlobStore`]: blobs are named by (tenant id, blob id), both
//! server-made UUIDs, so nothing a client sends ever becomes part of a filesystem path or an object key.
//!
//! The interface is the subset of an object store the vault needs: a streamed write that becomes visible only
//! on commit, a streamed read, and deletes. [`LocalStore`] (the default, `data_dir/vault/`) fills it with
//! files; an S3-compatible store fills it the same way through the `object_store` crate (`put_multipart` for
//! the writer, `get(..).into_stream()` for the reader, `delete`, and `list` + `delete` for a tenant's prefix),
//! which is what several instances behind one load balancer need.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncWriteExt as _};

/// A readable blob.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// Stores encrypted blobs.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + Debug {
    /// Starts a new blob; nothing is readable under its name before `commit`.
    async fn create(&self, tenant_id: &str, blob: &str) -> std::io::Result<Box<dyn BlobWriter>>;
    /// Reads a committed blob from the start.
    async fn open(&self, tenant_id: &str, blob: &str) -> std::io::Result<BlobReader>;
    /// Deletes a blob, or what a crash left of one being written; a missing blob is not an error.
    async fn delete(&self, tenant_id: &str, blob: &str) -> std::io::Result<()>;
    /// Deletes every blob of a tenant.
    async fn delete_tenant(&self, tenant_id: &str) -> std::io::Result<()>;
}

/// A blob being written.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Makes the blob durable and visible under its name.
    async fn commit(self: Box<Self>) -> std::io::Result<()>;
    /// Throws the partial blob away.
    async fn abort(self: Box<Self>);
}

/// Blobs as files: `root/<tenant id>/<first two characters of the blob id>/<blob id>`, written to a temporary
/// file, flushed to disk and renamed on commit, so a crash never leaves a half file under a blob's name.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn tenant_dir(&self, tenant_id: &str) -> std::io::Result<PathBuf> {
        Ok(self.root.join(checked_name(tenant_id)?))
    }

    fn path(&self, tenant_id: &str, blob: &str) -> std::io::Result<PathBuf> {
        let blob = checked_name(blob)?;
        Ok(self.tenant_dir(tenant_id)?.join(&blob[..2]).join(blob))
    }
}

/// Only server-made names (letters, digits, dashes; 2 to 64 characters) are ever used as path segments.
fn checked_name(name: &str) -> std::io::Result<&str> {
    let ok = (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a blob name"))
    }
}

struct LocalWriter {
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    target: PathBuf,
}

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    async fn create(&self, tenant_id: &str, blob: &str) -> std::io::Result<Box<dyn BlobWriter>> {
        let target = self.path(tenant_id, blob)?;
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::fs::create_dir_all(&dir).await?;
        let temp = dir.join(format!(".{blob}.part"));
        let mut opts = tokio::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let file = opts.open(&temp).await?;
        Ok(Box::new(LocalWriter { file: Some(file), temp, target }))
    }

    async fn open(&self, tenant_id: &str, blob: &str) -> std::io::Result<BlobReader> {
        let file = tokio::fs::File::open(self.path(tenant_id, blob)?).await?;
        Ok(Box::pin(tokio::io::BufReader::with_capacity(1 << 20, file)))
    }

    async fn delete(&self, tenant_id: &str, blob: &str) -> std::io::Result<()> {
        let path = self.path(tenant_id, blob)?;
        let partial = path.with_file_name(format!(".{blob}.part"));
        for p in [partial, path] {
            match tokio::fs::remove_file(p).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete_tenant(&self, tenant_id: &str) -> std::io::Result<()> {
        match tokio::fs::remove_dir_all(self.tenant_dir(tenant_id)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes).await,
            None => Err(std::io::Error::other("blob already closed")),
        }
    }

    async fn commit(mut self: Box<Self>) -> std::io::Result<()> {
        let Some(mut file) = self.file.take() else { return Err(std::io::Error::other("blob already closed")) };
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temp, &self.target).await?;
        if let Some(dir) = self.target.parent() {
            // The rename itself is durable once the folder is flushed.
            tokio::fs::File::open(dir).await?.sync_all().await?;
        }
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        self.file.take();
        let _ = tokio::fs::remove_file(&self.temp).await;
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Dropped mid-write (e.g. the upload's connection closed): remove the partial file.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    #[tokio::test]
    async fn blobs_appear_on_commit_only_and_names_are_checked() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = LocalStore::new(dir.path());
        let mut w = store.create("tenant-1", "blob-1").await?;
        w.write(b"hello").await?;
        assert!(store.open("tenant-1", "blob-1").await.is_err(), "invisible before commit");
        w.commit().await?;
        let mut back = Vec::new();
        store.open("tenant-1", "blob-1").await?.read_to_end(&mut back).await?;
        assert_eq!(back, b"hello");
        let w = store.create("tenant-1", "blob-2").await?;
        w.abort().await;
        assert!(store.open("tenant-1", "blob-2").await.is_err());
        for bad in ["../x", "a/b", "", "x", "..", "a b"] {
            assert!(store.create("tenant-1", bad).await.is_err(), "{bad:?}");
            assert!(store.open(bad, "blob-1").await.is_err(), "{bad:?}");
        }
        store.delete("tenant-1", "blob-1").await?;
        store.delete("tenant-1", "blob-1").await?;
        store.delete_tenant("tenant-1").await?;
        assert!(!dir.path().join("tenant-1").exists());
        Ok(())
    }
}
