//! Where ciphertext lives. The vault talks to a [`BlobStore`]: blobs are named by (tenant id, blob id), both
//! server-made UUIDs, so nothing a client sends ever becomes part of a filesystem path or an object key.
//!
//! The interface is the subset of an object store the vault needs: a streamed write that becomes visible only
//! on commit, a streamed read, and deletes. [`LocalStore`] (the default, `data_dir/vault/`) fills it with
//! files; [`super::s3::S3Store`] fills it with objects in an S3-compatible bucket, which is what several
//! instances behind one load balancer need.

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio::io::AsyncRead;

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
    /// The names of a tenant's committed blobs, sorted.
    async fn list(&self, tenant_id: &str) -> std::io::Result<Vec<String>>;
    /// Deletes every blob of a tenant.
    async fn delete_tenant(&self, tenant_id: &str) -> std::io::Result<()>;
}

/// A blob being written.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes (handed over, not copied).
    async fn write(&mut self, bytes: Vec<u8>) -> std::io::Result<()>;
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
pub(super) fn checked_name(name: &str) -> std::io::Result<&str> {
    let ok = (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(name)
    } else {
        Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a blob name"))
    }
}

/// What the writer thread is asked to do.
enum Op {
    Data(Vec<u8>),
    Commit(tokio::sync::oneshot::Sender<std::io::Result<()>>),
}

/// Bytes written between two background flushes to disk.
const FLUSH_EVERY: usize = 32 << 20;

/// A blob being written by a thread of its own: the async side hands over buffers (no copy) through a short
/// queue and carries on receiving and encrypting while the thread writes. A second thread flushes what was
/// written every 32 MiB, so the disk works during the transfer and the final flush on commit is short.
struct LocalWriter {
    tx: Option<tokio::sync::mpsc::Sender<Op>>,
    thread: Option<tokio::task::JoinHandle<()>>,
}

fn write_loop(mut file: std::fs::File, mut rx: tokio::sync::mpsc::Receiver<Op>, temp: &Path, target: &Path) {
    use std::io::Write as _;
    let (kick, kicks) = std::sync::mpsc::channel::<()>();
    let flusher = file.try_clone().ok().map(|clone| {
        std::thread::spawn(move || {
            while kicks.recv().is_ok() {
                while kicks.try_recv().is_ok() {}
                let _ = clone.sync_data();
            }
        })
    });
    let mut since_flush = 0;
    while let Some(op) = rx.blocking_recv() {
        match op {
            Op::Data(bytes) => {
                if let Err(e) = file.write_all(&bytes) {
                    tracing::error!(error = %e, "vault blob write failed");
                    break;
                }
                since_flush += bytes.len();
                if since_flush >= FLUSH_EVERY {
                    let _ = kick.send(());
                    since_flush = 0;
                }
            }
            Op::Commit(reply) => {
                drop(kick);
                if let Some(f) = flusher {
                    let _ = f.join();
                }
                let result = finish(file, temp, target);
                if result.is_err() {
                    let _ = std::fs::remove_file(temp);
                }
                let _ = reply.send(result);
                return;
            }
        }
    }
    // Aborted, dropped or failed: the partial file goes.
    drop(kick);
    drop(file);
    let _ = std::fs::remove_file(temp);
}

fn finish(file: std::fs::File, temp: &Path, target: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    drop(file);
    std::fs::rename(temp, target)?;
    if let Some(dir) = target.parent() {
        // The rename itself is durable once the folder is flushed.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn closed() -> std::io::Error {
    std::io::Error::other("the blob could not be written (see the log)")
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
        let file = opts.open(&temp).await?.into_std().await;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let thread = tokio::task::spawn_blocking(move || write_loop(file, rx, &temp, &target));
        Ok(Box::new(LocalWriter { tx: Some(tx), thread: Some(thread) }))
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

    async fn list(&self, tenant_id: &str) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut shards = match tokio::fs::read_dir(self.tenant_dir(tenant_id)?).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            other => other?,
        };
        while let Some(shard) = shards.next_entry().await? {
            if !shard.file_type().await?.is_dir() {
                continue;
            }
            let mut files = tokio::fs::read_dir(shard.path()).await?;
            while let Some(file) = files.next_entry().await? {
                let name = file.file_name().to_string_lossy().into_owned();
                // Dot files are writes in progress (or left by a crash), not blobs.
                if !name.starts_with('.') && checked_name(&name).is_ok() {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
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
    async fn write(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        match &self.tx {
            Some(tx) => tx.send(Op::Data(bytes)).await.map_err(|_| closed()),
            None => Err(closed()),
        }
    }

    async fn commit(mut self: Box<Self>) -> std::io::Result<()> {
        let tx = self.tx.take().ok_or_else(closed)?;
        let (reply, result) = tokio::sync::oneshot::channel();
        tx.send(Op::Commit(reply)).await.map_err(|_| closed())?;
        result.await.map_err(|_| closed())?
    }

    async fn abort(mut self: Box<Self>) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.await;
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
        w.write(b"hello".to_vec()).await?;
        assert!(store.open("tenant-1", "blob-1").await.is_err(), "invisible before commit");
        w.commit().await?;
        let pending = store.create("tenant-1", "blob-0").await?;
        assert_eq!(store.list("tenant-1").await?, ["blob-1"], "a write in progress is not listed");
        pending.abort().await;
        assert!(store.list("tenant-2").await?.is_empty());
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
