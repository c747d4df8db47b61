//! The tenant context: who is acting, in which tenant, by which credential. Built once per request, from the
//! session by the server's auth middleware or from an API key by the REST gate; every tenant-scoped backend
//! function takes it first and filters by `tenant_id`. The tenant id never comes from the client. Its fields are
//! private: only sign-in, a tenant switch and key verification make one.
//!
//! Permissions are proofs: `ctx.require::<perm::VaultWrite>()` is the only way to get a `Granted<VaultWrite>`,
//! and every privileged backend function takes the exact proof it needs, so a missing check does not compile.

pub mod changes;
pub mod epoch;
pub mod four_eyes;

use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::model::{AppError, Permission, Role};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// What authenticated the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Credential {
    /// A signed-in member's session.
    #[default]
    Session,
    /// An API key (its id); the account and membership are its maker's, the grants what its scopes give.
    ApiKey {
        id: String,
        /// The secret presented is the one a roll is replacing (accepted until its grace ends).
        previous: bool,
    },
    /// A member through the SFTP gateway, by an SSH key or certificate (its fingerprint).
    Sftp { key_fingerprint: String },
    /// A platform operator the organisation's owner let in (`support`): read-only, until the request's end.
    Support { request_id: String },
}

/// The authenticated principal of a request, inside one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantCtx {
    tenant_id: TenantId,
    account_id: AccountId,
    membership_id: MembershipId,
    role: String,
    /// Who the access history names: the member's email for a session, "API key <prefix>" for a key.
    #[serde(rename = "email")]
    actor: String,
    tenant_name: String,
    /// Features granted to a member (owners, admins and auditors have theirs by role). Refreshed from the
    /// database on every request, so a change takes effect at once.
    #[serde(default)]
    grants: Vec<Permission>,
    /// How many active memberships the account has (refreshed with the grants).
    #[serde(default)]
    tenant_count: i64,
    /// A session never holds a key credential: sessions stored before this field deserialize as `Session`.
    #[serde(default)]
    credential: Credential,
    /// When the tenant's closure takes effect, if an owner asked for it (refreshed on every request). While it
    /// is set the tenant context opens nothing but the closure page and its cancel (`closing_refusal`).
    #[serde(default)]
    closes_at: Option<i64>,
}

/// The permission markers a `Granted` proof can name; sealed, so no other crate adds one.
pub mod perm {
    use crate::model::Permission;

    mod sealed {
        pub trait Sealed {}
    }

    /// A feature a member may be granted.
    pub trait Feature: sealed::Sealed {
        const PERMISSION: Permission;
    }

    macro_rules! features {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("The `", stringify!($name), "` feature.")]
            #[derive(Debug)]
            pub enum $name {}
            impl sealed::Sealed for $name {}
            impl Feature for $name {
                const PERMISSION: Permission = Permission::$name;
            }
        )*};
    }

    features!(Team, ApiKeys, SshKeys, VaultRead, VaultWrite, AccessHistory, Export, Settings);
}

/// Proof that the actor may use feature `F`; its field is private and only `TenantCtx::require` makes one.
///
/// The check is the only way in:
/// ```
/// use app::backend::access::{perm, Granted, TenantCtx};
/// fn writes(_: &Granted<perm::VaultWrite>) {}
/// fn upload(ctx: &TenantCtx) -> Result<(), app::model::AppError> {
///     writes(&ctx.require::<perm::VaultWrite>()?);
///     Ok(())
/// }
/// ```
/// Nothing else makes one:
/// ```compile_fail
/// use app::backend::access::{perm, Granted};
/// let forged: Granted<perm::VaultWrite> = Granted { _feature: std::marker::PhantomData };
/// ```
/// and a proof of one feature is not a proof of another:
/// ```compile_fail
/// use app::backend::access::{perm, Granted, TenantCtx};
/// fn writes(_: &Granted<perm::VaultWrite>) {}
/// fn upload(ctx: &TenantCtx) -> Result<(), app::model::AppError> {
///     writes(&ctx.require::<perm::VaultRead>()?);
///     Ok(())
/// }
/// ```
pub struct Granted<F: perm::Feature> {
    _feature: PhantomData<F>,
}

impl<F: perm::Feature> std::fmt::Debug for Granted<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Granted<{}>", F::PERMISSION.as_str())
    }
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

/// A member's membership, as sign-in and a tenant switch read it.
pub struct MemberParts {
    pub tenant_id: TenantId,
    pub account_id: AccountId,
    pub membership_id: MembershipId,
    pub role: String,
    pub email: String,
    pub tenant_name: String,
    pub grants: Vec<Permission>,
    pub tenant_count: i64,
}

impl TenantCtx {
    /// A signed-in member's context (sign-in, tenant switch).
    pub fn member(p: MemberParts) -> Self {
        Self {
            tenant_id: p.tenant_id,
            account_id: p.account_id,
            membership_id: p.membership_id,
            role: p.role,
            actor: p.email,
            tenant_name: p.tenant_name,
            grants: p.grants,
            tenant_count: p.tenant_count,
            credential: Credential::Session,
            closes_at: None,
        }
    }

    /// An API key's context (key verification only): the maker's account and membership, the grants the key's
    /// scopes leave after intersecting with the maker's current power, and the role of a plain member.
    pub(crate) fn for_api_key(
        key_id: String,
        prefix: &str,
        tenant_id: TenantId,
        tenant_name: String,
        maker: (AccountId, MembershipId),
        grants: Vec<Permission>,
        previous: bool,
    ) -> Self {
        crate::backend::platform::failure::note_tenant(tenant_id.as_str());
        Self {
            tenant_id,
            account_id: maker.0,
            membership_id: maker.1,
            role: Role::Member.as_str().to_owned(),
            actor: format!("API key {prefix}"),
            tenant_name,
            grants,
            tenant_count: 1,
            credential: Credential::ApiKey { id: key_id, previous },
            closes_at: None,
        }
    }

    /// A member's context in the SFTP gateway (`ssh::gateway` only, after the key or certificate was accepted):
    /// the access history names the member and the key, as "alice@example.com (SFTP, SHA256:…)".
    pub(crate) fn for_sftp(p: MemberParts, key_fingerprint: String) -> Self {
        crate::backend::platform::failure::note_tenant(p.tenant_id.as_str());
        Self {
            tenant_id: p.tenant_id,
            account_id: p.account_id,
            membership_id: p.membership_id,
            role: p.role,
            actor: format!("{} (SFTP, {key_fingerprint})", p.email),
            tenant_name: p.tenant_name,
            grants: p.grants,
            tenant_count: p.tenant_count,
            credential: Credential::Sftp { key_fingerprint },
            closes_at: None,
        }
    }

    /// A support session's context (`support` only): an admin's view of the console for reading, named
    /// "Support: operator" in the access history; every write is refused at the gate.
    pub(crate) fn for_support(request_id: String, operator: &str, tenant_id: TenantId, tenant_name: String) -> Self {
        Self {
            tenant_id,
            account_id: AccountId(format!("support:{request_id}")),
            membership_id: MembershipId(format!("support:{request_id}")),
            role: Role::Admin.as_str().to_owned(),
            actor: format!("Support: {operator}"),
            tenant_name,
            grants: Vec::new(),
            tenant_count: 1,
            credential: Credential::Support { request_id },
            closes_at: None,
        }
    }

    /// The support request behind this context, when it is a support session.
    pub fn support_request(&self) -> Option<&str> {
        match &self.credential {
            Credential::Support { request_id } => Some(request_id),
            _ => None,
        }
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    pub fn membership_id(&self) -> &MembershipId {
        &self.membership_id
    }

    /// The stored role name (see `role` for the parsed one).
    pub fn role_name(&self) -> &str {
        &self.role
    }

    /// The member's email for a session; "API key <prefix>" for a key (never an address: nothing may be mailed
    /// to it, and an invitation's email never matches it).
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The same context naming someone else in the access history (an approved act: "who (approved by whom)").
    pub(crate) fn with_actor(mut self, actor: String) -> Self {
        self.actor = actor;
        self
    }

    pub fn tenant_name(&self) -> &str {
        &self.tenant_name
    }

    pub fn grants(&self) -> &[Permission] {
        &self.grants
    }

    pub fn tenant_count(&self) -> i64 {
        self.tenant_count
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The key's id when an API key is acting; `None` for a signed-in member.
    pub fn api_key(&self) -> Option<&str> {
        match &self.credential {
            Credential::ApiKey { id, .. } => Some(id),
            Credential::Session | Credential::Sftp { .. } | Credential::Support { .. } => None,
        }
    }

    /// Whether an API key is acting with the secret a roll is replacing.
    pub fn previous_secret(&self) -> bool {
        matches!(self.credential, Credential::ApiKey { previous: true, .. })
    }

    pub fn closes_at(&self) -> Option<i64> {
        self.closes_at
    }

    /// Refreshes what the database says now (grants, role, tenant count, closure) into a session's context.
    pub fn refresh(&mut self, role: String, grants: Vec<Permission>, tenant_count: i64, closes_at: Option<i64>) {
        self.role = role;
        self.grants = grants;
        self.tenant_count = tenant_count;
        self.closes_at = closes_at;
    }

    /// Whether the actor is an owner or admin of the current tenant.
    pub fn is_admin(&self) -> bool {
        matches!(self.role(), Role::Owner | Role::Admin)
    }

    /// The actor's role (an unknown stored role counts as the least privileged).
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Auditor)
    }

    /// Whether the actor may use a feature.
    pub fn can(&self, p: Permission) -> bool {
        crate::model::allows(self.role(), &self.grants, p)
    }

    /// The proof of feature `F`, or `Forbidden` (deny by default).
    pub fn require<F: perm::Feature>(&self) -> Result<Granted<F>, AppError> {
        if self.can(F::PERMISSION) {
            Ok(Granted { _feature: PhantomData })
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Every feature the actor may use, for the navigation.
    pub fn features(&self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.can(*p)).collect()
    }

    /// The owner handle, or `Forbidden`.
    pub fn require_owner(&self) -> Result<OwnerHandle, AppError> {
        if self.api_key().is_none() && self.role() == Role::Owner {
            Ok(OwnerHandle { _private: () })
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// The closing refusal every act gets while the tenant is closing (`None` when it is not).
    pub fn closing_refusal(&self) -> Option<AppError> {
        self.closes_at.map(closing_error)
    }

    /// The admin handle, or `Forbidden`.
    pub fn require_admin(&self) -> Result<AdminHandle, AppError> {
        if self.is_admin() {
            Ok(AdminHandle { _private: () })
        } else {
            Err(AppError::Forbidden)
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
