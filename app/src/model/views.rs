//! View types: what a page needs, nothing more. Row types stay in `backend`.

use serde::{Deserialize, Serialize};

/// The signed-in account in the current tenant, as the app shell shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub tenant_name: String,
    pub role: String,
}

/// What the setup-password page shows about a valid setup link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupInfo {
    pub email: String,
    pub tenant_name: String,
    pub policy: PasswordPolicyView,
}

/// The password rules in force, so the form can state them up front.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicyView {
    pub min_chars: usize,
    pub max_chars: usize,
}

/// The console's landing page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewView {
    pub tenant_name: String,
    pub members: i64,
    pub sign_ins_24h: i64,
    pub failed_sign_ins_24h: i64,
    /// Epoch milliseconds of this account's previous successful sign-in, if any.
    pub previous_sign_in_at: Option<i64>,
    pub previous_sign_in_ip: Option<String>,
}

/// One access-history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventView {
    pub id: String,
    /// Epoch milliseconds, UTC.
    pub at: i64,
    pub action: String,
    pub outcome: String,
    /// Who acted: an account email, or a masked attempted email.
    pub actor: String,
    pub ip: String,
    pub user_agent: String,
}
