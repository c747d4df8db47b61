//! API keys as both sides see them: kinds, per-resource access, and the views of the keys pages. Never a
//! secret, except `FreshKeyView`, which exists once, right after creation or a roll.

use serde::{Deserialize, Serialize};

/// What a key may do. Master: everything the tenant's API offers, key management included; write and read:
/// every data resource at that level; restricted: the listed scopes; canary: nothing, and any use alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Master,
    Write,
    Read,
    Restricted,
    Canary,
}

impl KeyKind {
    pub const ALL: [KeyKind; 5] = [Self::Master, Self::Write, Self::Read, Self::Restricted, Self::Canary];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Write => "write",
            Self::Read => "read",
            Self::Restricted => "restricted",
            Self::Canary => "canary",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Access to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    #[default]
    None,
    Read,
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::None, Self::Read, Self::Write].into_iter().find(|a| a.as_str() == s)
    }
}

/// A data resource of the REST API. Key management is not one: only master keys manage keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiResource {
    Members,
    AccessHistory,
    Vault,
}

impl ApiResource {
    pub const ALL: [ApiResource; 3] = [Self::Members, Self::AccessHistory, Self::Vault];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Members => "members",
            Self::AccessHistory => "access_history",
            Self::Vault => "vault",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The console feature a member needs to hand this resource to a key.
    pub fn feature(self) -> super::Permission {
        match self {
            Self::Members => super::Permission::Team,
            Self::AccessHistory => super::Permission::AccessHistory,
            Self::Vault => super::Permission::VaultRead,
        }
    }

    /// How the console names it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Members => "Members",
            Self::AccessHistory => "Access history",
            Self::Vault => "Vault files",
        }
    }
}

/// What a person or a master key asks for when creating a key (and, less the kind, when changing one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyInput {
    pub description: String,
    /// Days until expiry; `None` means the tenant's maximum.
    pub expires_in_days: Option<i64>,
    pub allowed_ips: String,
    pub allowed_referers: String,
    pub rate_per_hour: Option<i64>,
    /// For restricted keys; ignored for the others.
    pub scopes: Scopes,
    /// For canary keys: the kind it poses as (master by default).
    pub looks_like: Option<KeyKind>,
    /// Works only over a connection presenting an active machine certificate of the key's organisation.
    #[serde(default)]
    pub machines_only: bool,
}

/// Per-resource access; a resource not listed has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Scopes(pub Vec<(ApiResource, Access)>);

impl Scopes {
    /// Every resource at one level.
    pub fn all(level: Access) -> Self {
        Self(ApiResource::ALL.into_iter().map(|r| (r, level)).collect())
    }

    pub fn access(&self, resource: ApiResource) -> Access {
        self.0.iter().find(|(r, _)| *r == resource).map(|(_, a)| *a).unwrap_or_default()
    }

    /// The most a person with `role` and `grants` reaches through the API, per resource: the members list with
    /// *Team*, the vault at read with *Vault (read)* and at write with *Vault (write)*, the access history with
    /// *Access history* (read-only whatever the level: no route writes it). A key never holds more than this
    /// of its maker, when it is made and at every verification.
    pub fn of_maker(role: super::Role, grants: &[super::Permission]) -> Scopes {
        use super::Permission as P;
        let can = |p: P| super::allows(role, grants, p);
        let level = |write: bool, read: bool| {
            if write {
                Access::Write
            } else if read {
                Access::Read
            } else {
                Access::None
            }
        };
        Scopes(vec![
            (ApiResource::Members, level(can(P::Team), false)),
            (ApiResource::AccessHistory, level(can(P::AccessHistory), false)),
            (ApiResource::Vault, level(can(P::VaultWrite), can(P::VaultRead))),
        ])
    }

    /// Per resource, the lower of the two.
    pub fn intersect(&self, other: &Scopes) -> Scopes {
        Scopes(ApiResource::ALL.into_iter().map(|r| (r, self.access(r).min(other.access(r)))).collect())
    }

    /// Whether these scopes give nothing beyond `other`.
    pub fn within(&self, other: &Scopes) -> bool {
        ApiResource::ALL.into_iter().all(|r| self.access(r) <= other.access(r))
    }

    /// Stored form: `members:read,access_history:write` (resources with no access are left out).
    pub fn to_text(&self) -> String {
        ApiResource::ALL
            .into_iter()
            .filter(|r| self.access(*r) != Access::None)
            .map(|r| format!("{}:{}", r.as_str(), self.access(r).as_str()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form; `None` on an unknown resource or level.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (r, a) = part.split_once(':')?;
            let r = ApiResource::parse(r)?;
            if out.iter().any(|(x, _)| *x == r) {
                return None;
            }
            out.push((r, Access::parse(a)?));
        }
        Some(Self(out))
    }

    /// The scopes a key of `kind` has (restricted keys: their own).
    pub fn of_kind(kind: KeyKind, restricted: &Scopes) -> Scopes {
        match kind {
            KeyKind::Master | KeyKind::Write => Scopes::all(Access::Write),
            KeyKind::Read => Scopes::all(Access::Read),
            KeyKind::Restricted => restricted.clone(),
            KeyKind::Canary => Scopes::default(),
        }
    }
}

/// A key's state for lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    /// Expires within 30 days, or is 11 months old: roll it.
    Due,
    Expired,
    /// Unused for longer than the tenant allows.
    Disabled,
    /// Frozen by the panic button (or an admin): refused until unfrozen.
    Frozen,
    Revoked,
}

impl KeyStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Due => "due for rotation",
            Self::Expired => "expired",
            Self::Disabled => "disabled (unused)",
            Self::Frozen => "frozen",
            Self::Revoked => "revoked",
        }
    }
}

/// The overview's posture links open the keys list filtered to what needs fixing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFilter {
    /// Live keys whose secret is older than 90 days.
    Old,
    /// Live keys never used.
    Unused,
    /// Live keys without an IP allow list.
    Open,
}

impl KeyFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "old" => Some(Self::Old),
            "unused" => Some(Self::Unused),
            "open" => Some(Self::Open),
            _ => None,
        }
    }

    /// What the filtered list shows.
    pub fn title(self) -> &'static str {
        match self {
            Self::Old => "live keys older than 90 days",
            Self::Unused => "live keys never used",
            Self::Open => "live keys without an IP allow list",
        }
    }

    /// Whether a key belongs in the filtered list (the overview's posture counts the same keys).
    pub fn keeps(self, k: &KeyView) -> bool {
        let live = k.kind != KeyKind::Canary && !matches!(k.status, KeyStatus::Revoked | KeyStatus::Expired);
        live && match self {
            Self::Old => k.secret_age_days >= 90,
            Self::Unused => k.last_used_at.is_none(),
            Self::Open => k.allowed_ips.is_empty(),
        }
    }
}

/// One key in the list and on its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub kind: KeyKind,
    /// The kind its text shows (a canary's disguise).
    pub label: String,
    pub description: String,
    pub display_prefix: String,
    pub owner_email: String,
    pub scopes: Scopes,
    pub allowed_ips: Vec<String>,
    pub allowed_referers: Vec<String>,
    pub rate_per_hour: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Whole days left before expiry (rounded up), as the server's clock saw it.
    pub expires_in_days: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub last_used_user_agent: Option<String>,
    pub status: KeyStatus,
    /// The previous secret while its grace lasts: display prefix and end.
    pub previous_prefix: Option<String>,
    pub previous_ends_at: Option<i64>,
    pub rolled_at: Option<i64>,
    /// Whole days since the current secret was issued (creation or last roll).
    #[serde(default)]
    pub secret_age_days: i64,
    /// Whether the viewer may roll, change or revoke it.
    pub can_manage: bool,
    /// Works only from an enrolled machine (a client certificate of the organisation).
    #[serde(default)]
    pub machines_only: bool,
}

/// Where and how one secret of a key was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyUsageView {
    pub ip: String,
    pub user_agent: String,
    pub first_used_at: i64,
    pub last_used_at: i64,
    pub uses: i64,
}

/// A key's page: the key, and the use of its current and previous secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDetailView {
    pub key: KeyView,
    pub current_usage: Vec<KeyUsageView>,
    pub previous_usage: Vec<KeyUsageView>,
    /// Consecutive failed authentications against the key (a wrong secret with its public id), since its last
    /// success.
    #[serde(default)]
    pub failed_attempts: i64,
    /// The last failed attempt: when, and from which address.
    #[serde(default)]
    pub last_failure: Option<(i64, String)>,
    /// A key of the first format (no public id in its text): roll it to get failed attempts counted.
    #[serde(default)]
    pub first_format: bool,
}

/// The tenant's key policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicyView {
    pub max_age_days: i64,
    pub disable_unused_days: Option<i64>,
    pub security_contact: String,
}

/// The keys page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysView {
    pub keys: Vec<KeyView>,
    pub policy: KeyPolicyView,
    /// Kinds the viewer may create.
    pub creatable: Vec<KeyKind>,
    /// Resources the viewer may hand to a restricted or read key.
    pub resources: Vec<ApiResource>,
    pub is_admin: bool,
}

/// A secret shown once: right after creation or a roll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreshKeyView {
    pub key_id: String,
    pub description: String,
    pub secret: String,
}

/// One parameter of an API operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiParamView {
    pub name: String,
    /// query, path or header.
    pub location: String,
    pub description: String,
}

/// One operation of the REST API, for the console's API page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperationView {
    pub method: String,
    pub path: String,
    pub summary: String,
    /// Scopes (or `master`) the key needs.
    pub scopes: Vec<String>,
    pub parameters: Vec<ApiParamView>,
    /// (status, meaning)
    pub responses: Vec<(String, String)>,
}

/// The REST API as the console's API page shows it, summarised from the generated OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ApiReferenceView {
    /// The console's public origin, for examples.
    pub base_url: String,
    pub title: String,
    pub description: String,
    pub operations: Vec<ApiOperationView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_compare() -> Result<(), &'static str> {
        let s = Scopes::from_text("members:read,access_history:write").ok_or("parses")?;
        assert_eq!(s.to_text(), "members:read,access_history:write");
        assert!(Scopes::from_text("members:read").ok_or("parses")?.within(&s));
        assert!(!s.within(&Scopes::all(Access::Read)));
        assert!(Scopes::from_text("files:read").is_none());
        assert!(Scopes::from_text("members:admin").is_none());
        assert!(Scopes::from_text("members:read,members:write").is_none());
        assert_eq!(Scopes::from_text(""), Some(Scopes::default()));
        Ok(())
    }
}
