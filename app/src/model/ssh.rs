//! What the SSH keys page shows.

use serde::{Deserialize, Serialize};

/// One SSH key of a member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshKeyView {
    pub id: String,
    pub member_email: String,
    /// `github` or `pasted`.
    pub source: String,
    pub key_type: String,
    pub bits: i64,
    pub fingerprint: String,
    pub comment: String,
    /// `active`, `stale` (GitHub unreachable: still accepted until `usable_until`), `stale_refused` (no longer
    /// accepted until a sync succeeds), `disabled` (breaks the key policy) or `revoked` (gone from GitHub).
    pub state: String,
    pub state_reason: Option<String>,
    pub usable_until: Option<i64>,
    pub first_seen_at: i64,
    pub last_synced_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// The signed-in member's GitHub link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GithubLinkView {
    pub user: String,
    pub last_success_at: Option<i64>,
    pub last_error: Option<String>,
    pub next_sync_at: i64,
}

/// The SSH keys page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshKeysView {
    /// The member's own keys, or every member's for owners and admins.
    pub keys: Vec<SshKeyView>,
    pub github: Option<GithubLinkView>,
    /// `standard` or `security_keys_only`.
    pub policy: String,
    pub all_members: bool,
    /// Minutes between syncs.
    pub sync_minutes: i64,
    /// Whether the operator gave a GitHub token (without one GitHub allows 60 requests an hour per address).
    pub github_token: bool,
}
