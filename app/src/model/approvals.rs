//! What the approvals page shows.

use serde::{Deserialize, Serialize};

/// One request for a second admin's approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub id: String,
    /// The act in words.
    pub summary: String,
    pub reason: String,
    pub requested_by: String,
    /// Whether the caller asked for it (they may cancel it, never approve it).
    pub mine: bool,
    pub created_at: i64,
    pub expires_at: i64,
    /// pending | approved | refused | cancelled | failed | expired
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// What running the act said, or why it could not run.
    pub outcome: Option<String>,
}

/// The approvals page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalsView {
    /// Whether the organisation requires a second admin's approval for its riskiest acts.
    pub required: bool,
    /// Active owners and admins (the requirement needs two).
    pub admins: i64,
    /// Whether the caller may change the requirement.
    pub is_owner: bool,
    pub waiting: Vec<ApprovalView>,
    /// The latest decided or expired requests, newest first.
    pub decided: Vec<ApprovalView>,
    /// Whether an approved master key of the caller's waits for them to take its secret.
    pub key_waiting: bool,
}
