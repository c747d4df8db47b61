//! Roles and per-feature grants, shared by the server (which enforces them) and the pages (which hide what
//! the viewer may not do). Deny by default: a member has exactly the features granted; an auditor reads the
//! access history and posture only; owners and admins have every feature.

use serde::{Deserialize, Serialize};

/// A member's role in a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Owners and admins administer the tenant.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// A feature a member can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Team,
    ApiKeys,
    SshKeys,
    VaultRead,
    VaultWrite,
    AccessHistory,
    Export,
    Settings,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::Team,
        Permission::ApiKeys,
        Permission::SshKeys,
        Permission::VaultRead,
        Permission::VaultWrite,
        Permission::AccessHistory,
        Permission::Export,
        Permission::Settings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Team => "team",
            Self::ApiKeys => "api_keys",
            Self::SshKeys => "ssh_keys",
            Self::VaultRead => "vault_read",
            Self::VaultWrite => "vault_write",
            Self::AccessHistory => "access_history",
            Self::Export => "export",
            Self::Settings => "settings",
        }
    }

    /// What the members page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Team => "Team",
            Self::ApiKeys => "API keys",
            Self::SshKeys => "SSH keys",
            Self::VaultRead => "Vault (read)",
            Self::VaultWrite => "Vault (write)",
            Self::AccessHistory => "Access history",
            Self::Export => "Data export",
            Self::Settings => "Settings",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Parses a stored comma-separated list; unknown names are dropped (deny by default).
    pub fn parse_list(s: &str) -> Vec<Self> {
        let mut out: Vec<Self> = s.split(',').filter_map(|p| Self::parse(p.trim())).collect();
        out.sort_by_key(|p| p.as_str());
        out.dedup();
        out
    }

    /// The stored form of a list.
    pub fn join(list: &[Self]) -> String {
        let mut names: Vec<&str> = list.iter().map(|p| p.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.join(",")
    }
}

/// Whether a role with these grants may use a feature.
pub fn allows(role: Role, grants: &[Permission], p: Permission) -> bool {
    match role {
        Role::Owner | Role::Admin => true,
        Role::Auditor => p == Permission::AccessHistory,
        Role::Member => grants.contains(&p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_by_default() {
        assert!(!allows(Role::Member, &[], Permission::AccessHistory));
        assert!(allows(Role::Member, &[Permission::AccessHistory], Permission::AccessHistory));
        assert!(!allows(Role::Member, &[Permission::AccessHistory], Permission::Team));
        assert!(allows(Role::Auditor, &[], Permission::AccessHistory));
        assert!(!allows(Role::Auditor, &[Permission::Team], Permission::Team), "auditors are read-only");
        assert!(Permission::ALL.iter().all(|p| allows(Role::Admin, &[], *p)));
    }

    #[test]
    fn lists_round_trip_and_drop_unknown_names() {
        let list = Permission::parse_list("team, nonsense,access_history,team");
        assert_eq!(list, vec![Permission::AccessHistory, Permission::Team]);
        assert_eq!(Permission::join(&list), "access_history,team");
        assert_eq!(Role::parse("auditor"), Some(Role::Auditor));
        assert_eq!(Role::parse("root"), None);
    }
}
