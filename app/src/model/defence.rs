//! What the network rules page, the panic button and the overview's security posture show.

use serde::{Deserialize, Serialize};

/// One entry of the tenant's IP block list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpBlockView {
    pub id: String,
    /// Normalised CIDR (`192.0.2.7/32`, `2001:db8::/32`).
    pub cidr: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
    /// `None`: until removed.
    pub expires_at: Option<i64>,
    /// False once `expires_at` has passed (kept on the list until removed, no longer enforced).
    pub active: bool,
}

/// The network rules page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpRulesView {
    pub blocks: Vec<IpBlockView>,
    /// The console allow list; empty means the console is open from anywhere not blocked.
    pub console_allowed_ips: Vec<String>,
    /// The viewer's address as the server sees it (the allow list must contain it).
    pub your_ip: String,
    /// Epoch ms until which changes need no password again; `None`: confirm first.
    pub step_up_valid_until: Option<i64>,
    pub two_factor_enabled: bool,
}

/// What the panic button does to the tenant's keys that can change data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanicKeyAction {
    /// Refused until unfrozen (reversible).
    Freeze,
    /// Refused for good.
    Revoke,
}

impl PanicKeyAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "freeze" => Some(Self::Freeze),
            "revoke" => Some(Self::Revoke),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Freeze => "freeze",
            Self::Revoke => "revoke",
        }
    }
}

/// What one press of the panic button did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PanicReport {
    pub frozen_keys: Vec<String>,
    pub revoked_keys: Vec<String>,
    pub sessions_ended: u64,
    pub members: i64,
    /// Members without an authenticator, who enroll at their next sign-in.
    pub members_to_enroll: i64,
    /// Whether the tenant already required two-factor authentication.
    pub two_factor_was_required: bool,
}

/// The emergency page: who may press, and what is frozen now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicView {
    pub can_press: bool,
    /// Display prefixes and ids of keys frozen now.
    pub frozen_keys: Vec<(String, String)>,
    pub write_keys: i64,
    pub step_up_valid_until: Option<i64>,
    pub two_factor_enabled: bool,
    /// The last press: epoch ms and its detail, if any.
    pub last_panic: Option<(i64, String)>,
}

/// The tenant's security posture (owners, admins and auditors see it on the overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PostureView {
    pub members: i64,
    pub members_with_two_factor: i64,
    pub admins: i64,
    /// Live keys whose secret is older than 90 days.
    pub keys_older_than_90_days: i64,
    pub keys_never_used: i64,
    pub keys_without_ip_restriction: i64,
    /// Signed-in sessions not used for over half the idle timeout (likely forgotten, still valid).
    pub stale_sessions: i64,
    pub stale_after_minutes: i64,
    pub two_factor_required: bool,
    /// Active machines whose newest certificate has less than a third of its validity left (or none left).
    #[serde(default)]
    pub machines_due_for_renewal: i64,
}

/// Sign-in successes and failures of one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    /// Epoch ms of the day's start (UTC).
    pub day: i64,
    pub successes: i64,
    pub failures: i64,
}
