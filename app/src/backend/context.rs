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
