//! The tenant context: who is acting, in which tenant. Built once per request from the session (later: from an
//! API key) by the server's auth middleware; every tenant-scoped backend function takes it first and filters by
//! `tenant_id`. The tenant id never comes from the client.

use super::ids::{AccountId, MembershipId, TenantId};
use serde::{Deserialize, Serialize};

/// The authenticated principal of a request, inside one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantCtx {
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub membership_id: MembershipId,
    pub role: String,
    pub email: String,
    pub tenant_name: String,
}

/// The request's authentication state, as request extension. `None` inside means signed out.
#[derive(Debug, Clone)]
pub struct CurrentAuth(pub Option<TenantCtx>);

/// Proof that the actor administers its tenant (owner or admin); only `TenantCtx::require_admin` makes one,
/// and the functions that change other members or tenant policy take it.
#[derive(Debug)]
pub struct AdminHandle {
    _private: (),
}

impl TenantCtx {
    /// Whether the actor is an owner or admin of the current tenant.
    pub fn is_admin(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
    }

    /// The admin handle, or `Forbidden`.
    pub fn require_admin(&self) -> Result<AdminHandle, crate::model::AppError> {
        if self.is_admin() {
            Ok(AdminHandle { _private: () })
        } else {
            Err(crate::model::AppError::Forbidden)
        }
    }
}
