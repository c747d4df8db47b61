//! The vault as both sides see it: files by path, their versions, ephemeral links and the key rotation.

use serde::{Deserialize, Serialize};

/// A file (the newest version's figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultFileView {
    pub id: String,
    pub path: String,
    pub folder: String,
    pub name: String,
    pub size: i64,
    pub versions: i64,
    pub content_type: String,
    pub sha256: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when soft-deleted, with when it will be purged.
    pub deleted_at: Option<i64>,
    pub purge_at: Option<i64>,
}

/// One stored version of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultVersionView {
    pub id: String,
    pub number: i64,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub created_at: i64,
    pub created_by: String,
    pub current: bool,
}

/// A folder listing or a search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VaultListView {
    /// The folder shown ("" is the root), ending in `/` otherwise.
    pub folder: String,
    /// Direct subfolders (full paths ending in `/`), when listing a folder.
    pub folders: Vec<String>,
    pub files: Vec<VaultFileView>,
    /// More files matched than are shown.
    pub truncated: bool,
    pub can_write: bool,
    pub can_admin: bool,
    /// The largest accepted upload, in bytes.
    pub max_file_bytes: i64,
    /// How long a deleted file can be restored, in days.
    pub restore_days: i64,
}

/// A file with its versions and links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultFileDetailView {
    pub file: VaultFileView,
    pub versions: Vec<VaultVersionView>,
    pub links: Vec<VaultLinkView>,
    pub can_write: bool,
    pub can_share: bool,
}

/// An ephemeral link (never its token, except in `FreshLinkView`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultLinkView {
    pub id: String,
    pub version_number: Option<i64>,
    pub single_use: bool,
    pub uses: i64,
    pub expires_at: i64,
    pub created_at: i64,
    pub created_by: String,
    /// active, used, expired or revoked
    pub status: String,
}

/// A link just minted: its URL is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreshLinkView {
    pub id: String,
    pub url: String,
    pub expires_at: i64,
    pub single_use: bool,
}

/// The tenant data key and its rotation progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VaultKeyView {
    pub active_version: Option<i64>,
    pub created_at: Option<i64>,
    pub rotation: Option<VaultRotationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultRotationView {
    pub from_version: i64,
    pub to_version: i64,
    pub total: i64,
    pub done: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

/// A size for people: bytes up to 1 KiB, then KiB, MiB, GiB, TiB with one decimal.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_people_expect() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 30), "5.0 GiB");
        assert_eq!(human_size(3 << 40), "3.0 TiB");
    }
}
