//! The encrypted vault: files kept per tenant, by path, with every version, encrypted at rest under the
//! tenant's own data key.
//!
//! - `cipher`: the chunked AES-256-GCM format (constant memory, tampering detected on read).
//! - `keys`: tenant data keys, wrapped by the master key; re-wrapping; crypto-shredding.
//! - `store`: the blob store interface and its local-filesystem implementation; `s3`: the S3-compatible one.
//! - `files`: upload and download; `list`: folders, search, versions; `manage`: delete, restore, purge;
//!   `folders`: folders and moves (as SFTP sees them); `links`: ephemeral links; `rotation`: tenant key rotation in the background; `scan`: the clamd hook.

pub mod cipher;
pub mod files;
pub mod folders;
pub mod keys;
pub mod links;
pub mod list;
pub mod manage;
pub mod paths;
pub mod read;
pub mod rotation;
pub mod s3;
pub mod scan;
pub mod store;

use std::sync::Arc;

/// The vault's parts and limits, in the app state.
#[derive(Debug, Clone)]
pub struct Vault {
    pub store: Arc<dyn store::BlobStore>,
    /// The largest file accepted, in bytes.
    pub max_file_bytes: u64,
    /// How long a deleted file stays restorable, in days.
    pub restore_days: i64,
    /// The virus scanner, when configured.
    pub scanner: Option<scan::Clamd>,
}

impl Vault {
    /// A vault on the local filesystem under `root`, with default limits (5 GiB files, 30 days to restore).
    pub fn local(root: impl Into<std::path::PathBuf>) -> Self {
        Self::on(Arc::new(store::LocalStore::new(root)))
    }

    /// A vault on `store`, with default limits.
    pub fn on(store: Arc<dyn store::BlobStore>) -> Self {
        Self { store, max_file_bytes: 5 << 30, restore_days: 30, scanner: None }
    }
}
