//! What the consent page shows.

use serde::{Deserialize, Serialize};

/// One request of the platform's support to look at the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportRequestView {
    pub id: String,
    pub operator: String,
    pub reason: String,
    /// Hours asked for.
    pub hours: i64,
    pub created_at: i64,
    /// pending | approved | refused | revoked | ended
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// Approved: when the access ends.
    pub until: Option<i64>,
    pub allow_vault: bool,
    pub allow_exports: bool,
}

/// The consent settings and the support requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    /// Whether the platform's support may ask at all.
    pub allowed: bool,
    /// Whether an owner may include the vault's contents in a support access.
    pub vault_allowed: bool,
    /// Whether an owner may include the data exports.
    pub exports_allowed: bool,
    /// Told of every request besides the owners.
    pub security_contact: String,
    pub requests: Vec<SupportRequestView>,
}
