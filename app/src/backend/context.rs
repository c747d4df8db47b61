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
    /// Features granted to a member (owners, admins and auditors have theirs by role). Refreshed from the
    /// database on every request, so a change takes effect at once.
    #[serde(default)]
    pub grants: Vec<crate::model::Permission>,
    /// How many active memberships the account has (refreshed with the grants).
    #[serde(default)]
    pub tenant_count: i64,
    /// Set when the principal is an API key (its id) rather than a signed-in member; the account and
    /// membership are then the key owner's, and the grants those the key's scopes give.
    #[serde(default)]
    pub api_key: Option<String>,
    /// When the tenant's closure takes effect, if an owner asked for it (refreshed on every request). While it
    /// is set the tenant context opens nothing but the closure page and its cancel (`closing_refusal`).
    #[serde(default)]
    pub closes_at: Option<i64>,
}

/// Proof that the actor may use a feature; only `TenantCtx::require` makes one.
#[derive(Debug)]
pub struct Granted {
    pub permission: crate::model::Permission,
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

/// Proof that the actor is an owner of its tenant, signed in (never a key); only `TenantCtx::require_owner`
/// makes one, and the acts reserved to owners (the panic button, the chain key) take it.
#[derive(Debug)]
pub struct OwnerHandle {
    _private: (),
}

impl TenantCtx {
    /// Whether the actor is an owner or admin of the current tenant.
    pub fn is_admin(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
    }

    /// The actor's role (an unknown stored role counts as the least privileged).
    pub fn role(&self) -> crate::model::Role {
        crate::model::Role::parse(&self.role).unwrap_or(crate::model::Role::Auditor)
    }

    /// Whether the actor may use a feature.
    pub fn can(&self, p: crate::model::Permission) -> bool {
        crate::model::allows(self.role(), &self.grants, p)
    }

    /// The proof of a feature grant, or `Forbidden` (deny by default).
    pub fn require(&self, p: crate::model::Permission) -> Result<Granted, crate::model::AppError> {
        if self.can(p) {
            Ok(Granted { permission: p })
        } else {
            Err(crate::model::AppError::Forbidden)
        }
    }

    /// Every feature the actor may use, for the navigation.
    pub fn features(&self) -> Vec<crate::model::Permission> {
        crate::model::Permission::ALL.into_iter().filter(|p| self.can(*p)).collect()
    }

    /// The owner handle, or `Forbidden`.
    pub fn require_owner(&self) -> Result<OwnerHandle, crate::model::AppError> {
        if self.api_key.is_none() && self.role() == crate::model::Role::Owner {
            Ok(OwnerHandle { _private: () })
        } else {
            Err(crate::model::AppError::Forbidden)
        }
    }

    /// The refusal every act gets while the tenant is closing (`None` when it is not).
    pub fn closing_refusal(&self) -> Option<crate::model::AppError> {
        self.closes_at.map(closing_error)
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

/// The answer to anything asked of a tenant that is closing on `closes_at`.
pub fn closing_error(closes_at: i64) -> crate::model::AppError {
    crate::model::AppError::Conflict {
        msg: format!(
            "This organisation is closing on {}. Nothing else can be done until then; an owner can cancel the \
             closure on the closure page (/organisation/closure).",
            crate::model::format_utc(closes_at)
        ),
    }
}
