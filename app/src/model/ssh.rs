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

/// A certificate the member was issued that is still valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshCertView {
    pub serial: i64,
    pub fingerprint: String,
    pub principal: String,
    pub valid_after: i64,
    pub valid_before: i64,
    /// The `…-cert-v01@openssh.com` line to save beside the private key.
    pub certificate: String,
}

/// A live SFTP session of the organisation (owners and admins see them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftpSessionView {
    pub id: String,
    /// The member and the key, as the access history names them.
    pub actor: String,
    /// `key` or `certificate`.
    pub via: String,
    pub key_fingerprint: String,
    pub ip: String,
    /// The client's SSH version string.
    pub client: String,
    pub started_at: i64,
    /// Bytes received and sent, as last counted (every few seconds).
    pub bytes_in: i64,
    pub bytes_out: i64,
    /// An administrator asked for its end.
    pub ending: bool,
}

/// How to reach the SFTP gateway, when it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftpAccessView {
    /// The member's user name there: `<email>@<tenant slug>`.
    pub user: String,
    pub host: String,
    pub port: u16,
    /// The server's host key fingerprint (`SHA256:…`), to compare on the first connection.
    pub host_key_fingerprint: String,
    /// The organisation requires short-lived certificates (plain keys are refused).
    pub require_certs: bool,
    /// Paused by the panic button until an administrator resumes it.
    pub paused: bool,
    /// The organisation's live sessions (owners and admins; empty for others).
    pub sessions: Vec<SftpSessionView>,
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
    /// Seconds between syncs.
    pub sync_seconds: i64,
    /// Whether the operator gave a GitHub token (without one GitHub allows 60 requests an hour per address).
    pub github_token: bool,
    /// The member's valid certificates, newest first.
    pub certificates: Vec<SshCertView>,
    /// The organisation's certificate authority (`ssh-ed25519 …`), once it issued its first certificate.
    pub ca_public_key: Option<String>,
    /// The lifetime of a certificate, in minutes.
    pub cert_minutes: i64,
    /// The SFTP gateway, when the server runs one.
    pub sftp: Option<SftpAccessView>,
}
