//! Who reaches what, declared once: every server function of the console and every REST route, with the role,
//! feature grant or key scope it needs. The REST gate enforces the route table before any handler runs (a
//! route without a row is refused); the server functions check with the proof types of
//! `backend::access`, and the tenancy and privilege matrices (`server/tests/it/tenancy.rs`) walk both tables,
//! so a function, page or route that is not here fails the suite.

use crate::model::{Access, ApiResource, Permission, Role};

/// Who may call a server function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Anyone, signed out included (sign-in, links from emails); answers must not leak anything.
    Public,
    /// A browser between password and second factor (or enrolment), or a signed-in member.
    Pending,
    /// Any signed-in member, about themselves.
    Own,
    /// Owners and admins.
    Admin,
    /// Owners, signed in.
    Owner,
    /// Members holding the feature (owners and admins hold every feature, auditors the access history).
    Feature(Permission),
    /// Members holding the feature who are also owners or admins (from the console; keys have their own rule).
    FeatureAdmin(Permission),
}

impl Reach {
    /// Whether a signed-in member with `role` and `grants` passes this rule.
    pub fn admits(self, role: Role, grants: &[Permission]) -> bool {
        let admin = matches!(role, Role::Owner | Role::Admin);
        match self {
            Self::Public | Self::Pending | Self::Own => true,
            Self::Admin => admin,
            Self::Owner => role == Role::Owner,
            Self::Feature(p) => crate::model::allows(role, grants, p),
            Self::FeatureAdmin(p) => admin && crate::model::allows(role, grants, p),
        }
    }
}

/// What a call is about, for the tenancy matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Reads the tenant's records: another tenant's owner gets its own, never these.
    Read,
    /// Changes or reads the tenant as a whole, or the caller's own account.
    Change,
    /// One record of the tenant (`membership_id`, `file_id`, …): another tenant's admin gets 404.
    Target,
    /// An act whose answer carries no tenant data: another tenant's owner acts on its own.
    Act,
    /// Answers only from this browser's own session.
    Session,
}

/// One server function's rule.
#[derive(Debug, Clone, Copy)]
pub struct ServerFn {
    pub name: &'static str,
    pub reach: Reach,
    pub shape: Shape,
}

const fn f(name: &'static str, reach: Reach, shape: Shape) -> ServerFn {
    ServerFn { name, reach, shape }
}

use Permission as P;
use Reach::{Admin, Feature, FeatureAdmin, Own, Owner, Pending, Public};
use Shape::{Act, Change, Read, Session, Target};

/// Every server function (`/api/<name>`).
pub const SERVER_FUNCTIONS: &[ServerFn] = &[
    f("sign_in", Public, Change),
    f("sign_out", Public, Change),
    f("get_setup_info", Public, Change),
    f("complete_setup", Public, Change),
    f("request_password_reset", Public, Change),
    f("get_reset_info", Public, Change),
    f("complete_password_reset", Public, Change),
    f("get_invite_info", Public, Change),
    f("accept_invitation", Public, Change),
    f("get_pending_sign_in", Pending, Change),
    f("verify_second_factor", Pending, Change),
    f("start_two_factor_enrollment", Pending, Change),
    f("confirm_two_factor_enrollment", Pending, Change),
    f("get_me", Own, Change),
    f("get_overview", Own, Change),
    f("get_security", Own, Change),
    f("step_up", Own, Change),
    f("change_password", Own, Change),
    f("get_recovery_codes", Own, Change),
    f("regenerate_recovery_codes", Own, Change),
    f("disable_two_factor", Own, Change),
    f("list_my_sessions", Own, Change),
    f("revoke_my_session", Own, Change),
    f("revoke_other_sessions", Own, Change),
    f("list_my_tenants", Own, Change),
    f("switch_tenant", Own, Change),
    f("get_api_reference", Own, Change),
    f("get_closure", Own, Change),
    f("list_recent_events", Feature(P::AccessHistory), Read),
    f("get_history", Feature(P::AccessHistory), Read),
    f("verify_history", Feature(P::AccessHistory), Act),
    f("get_event", Feature(P::AccessHistory), Target),
    f("set_history_retention", Admin, Change),
    f("reveal_chain_key", Owner, Change),
    f("list_members", Feature(P::Team), Read),
    f("list_invitations", Feature(P::Team), Read),
    f("update_member", Admin, Target),
    f("deactivate_member", Admin, Target),
    f("reactivate_member", Admin, Target),
    f("remove_member", Admin, Target),
    f("erase_member", Admin, Target),
    f("reset_member_two_factor", Admin, Target),
    f("list_member_sessions", Admin, Target),
    f("revoke_member_sessions", Admin, Target),
    f("set_two_factor_policy", Admin, Change),
    f("invite_member", Admin, Change),
    f("resend_invitation", Admin, Target),
    f("revoke_invitation", Admin, Target),
    f("get_keys", Feature(P::ApiKeys), Read),
    f("get_key", Feature(P::ApiKeys), Target),
    f("create_key", Feature(P::ApiKeys), Change),
    f("take_fresh_key", Feature(P::ApiKeys), Change),
    f("update_key", Feature(P::ApiKeys), Target),
    f("roll_key", Feature(P::ApiKeys), Target),
    f("end_key_grace", Feature(P::ApiKeys), Target),
    f("revoke_key", Feature(P::ApiKeys), Target),
    f("unfreeze_key", Admin, Target),
    f("set_key_policy", Admin, Change),
    f("get_ip_rules", Admin, Change),
    f("add_ip_block", Admin, Change),
    f("remove_ip_block", Admin, Target),
    f("set_console_allow_list", Admin, Change),
    f("get_panic", Admin, Change),
    f("press_panic_button", Owner, Change),
    f("undo_panic", Owner, Change),
    f("request_closure", Owner, Change),
    f("cancel_closure", Owner, Change),
    f("get_data_exports", Feature(P::Export), Act),
    f("start_data_export", Feature(P::Export), Change),
    f("get_data_export", Feature(P::Export), Target),
    f("list_vault", Feature(P::VaultRead), Read),
    f("get_vault_file", Feature(P::VaultRead), Target),
    f("delete_vault_file", Feature(P::VaultWrite), Target),
    f("undelete_vault_file", Feature(P::VaultWrite), Target),
    f("restore_vault_version", Feature(P::VaultWrite), Target),
    f("create_vault_link", FeatureAdmin(P::VaultRead), Target),
    f("take_fresh_vault_link", Feature(P::VaultRead), Session),
    f("revoke_vault_link", FeatureAdmin(P::VaultRead), Target),
    f("get_vault_key", Admin, Change),
    f("rotate_vault_key", Admin, Change),
    f("get_ssh_keys", Feature(P::SshKeys), Read),
    f("add_ssh_key", Feature(P::SshKeys), Change),
    f("remove_ssh_key", Feature(P::SshKeys), Target),
    f("link_github", Feature(P::SshKeys), Change),
    f("unlink_github", Feature(P::SshKeys), Change),
    f("set_ssh_key_policy", Admin, Change),
    f("issue_ssh_certificate", Feature(P::SshKeys), Change),
    f("end_sftp_session", Admin, Target),
    f("resume_sftp", Admin, Change),
    f("list_webhooks", Admin, Read),
    f("create_webhook", Admin, Change),
    f("take_fresh_webhook_secret", Admin, Session),
    f("delete_webhook", Admin, Target),
    f("rotate_webhook_secret", Admin, Target),
    f("send_webhook_test", Admin, Target),
    f("get_webhook_deliveries", Admin, Target),
    f("redeliver_webhook", Admin, Target),
    f("set_webhook_enabled", Admin, Target),
    f("get_approvals", Admin, Read),
    f("set_four_eyes", Owner, Change),
    f("approve_request", Admin, Target),
    f("refuse_request", Admin, Target),
    f("cancel_request", Admin, Target),
    f("take_approved_key", Admin, Session),
    f("get_consent", Owner, Read),
    f("get_machines", Admin, Read),
    f("create_machine_token", Admin, Change),
    f("take_fresh_machine_token", Admin, Session),
    f("revoke_machine_token", Admin, Target),
    f("revoke_machine", Admin, Target),
    f("set_consent", Owner, Change),
    f("approve_support", Owner, Target),
    f("refuse_support", Owner, Target),
    f("revoke_support", Owner, Target),
];

/// What a key needs for a REST route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNeeds {
    /// The scope on the resource, at least at this level.
    Scope(ApiResource, Access),
    /// A master key.
    Master,
    /// No key: a one-time enrolment token (`backend::machines::enrol`).
    EnrolmentToken,
    /// No key: the client certificate of an active machine (`backend::machines::enrol::renew`).
    MachineCertificate,
}

/// One REST route's rule: the key's scope, and the feature its maker must (still) hold, which the key's
/// verified context carries.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub key: KeyNeeds,
    pub feature: Permission,
}

const fn r(method: &'static str, path: &'static str, key: KeyNeeds, feature: Permission) -> Route {
    Route { method, path, key, feature }
}

use KeyNeeds::{EnrolmentToken, MachineCertificate, Master, Scope};

/// Every REST route but `GET /api/v1/openapi.json` (public: it describes, it does not disclose).
pub const REST_ROUTES: &[Route] = &[
    r("GET", "/api/v1/members", Scope(ApiResource::Members, Access::Read), P::Team),
    r("GET", "/api/v1/access-history", Scope(ApiResource::AccessHistory, Access::Read), P::AccessHistory),
    r("GET", "/api/v1/keys", Master, P::ApiKeys),
    r("POST", "/api/v1/keys", Master, P::ApiKeys),
    r("DELETE", "/api/v1/keys/{id}", Master, P::ApiKeys),
    r("POST", "/api/v1/keys/{id}/roll", Master, P::ApiKeys),
    r("GET", "/api/v1/vault/files", Scope(ApiResource::Vault, Access::Read), P::VaultRead),
    r("PUT", "/api/v1/vault/files", Scope(ApiResource::Vault, Access::Write), P::VaultWrite),
    r("GET", "/api/v1/vault/files/{id}", Scope(ApiResource::Vault, Access::Read), P::VaultRead),
    r("DELETE", "/api/v1/vault/files/{id}", Scope(ApiResource::Vault, Access::Write), P::VaultWrite),
    r("GET", "/api/v1/vault/files/{id}/content", Scope(ApiResource::Vault, Access::Read), P::VaultRead),
    r("POST", "/api/v1/vault/files/{id}/undelete", Scope(ApiResource::Vault, Access::Write), P::VaultWrite),
    r(
        "POST",
        "/api/v1/vault/files/{id}/versions/{version_id}/restore",
        Scope(ApiResource::Vault, Access::Write),
        P::VaultWrite,
    ),
    r("POST", "/api/v1/vault/files/{id}/links", Scope(ApiResource::Vault, Access::Read), P::VaultRead),
    r("POST", "/api/v1/exports", Master, P::Export),
    r("GET", "/api/v1/exports/{id}", Master, P::Export),
    r("GET", "/api/v1/exports/{id}/download", Master, P::Export),
    r("POST", "/api/v1/machines/enrol", EnrolmentToken, P::ApiKeys),
    r("POST", "/api/v1/machines/renew", MachineCertificate, P::ApiKeys),
];

impl Route {
    /// Whether `path` (as declared, e.g. `/api/v1/keys/{id}`, or as matched inside the `/api/v1` nest) is this
    /// route's.
    pub fn matches(&self, path: &str) -> bool {
        self.path == path || self.path.strip_prefix("/api/v1") == Some(path)
    }
}

/// The rule of a REST route, if it has one.
pub fn rest_route(method: &str, path: &str) -> Option<&'static Route> {
    REST_ROUTES.iter().find(|r| r.method.eq_ignore_ascii_case(method) && r.matches(path))
}

/// The rule of a server function, if it has one.
pub fn server_fn(name: &str) -> Option<&'static ServerFn> {
    SERVER_FUNCTIONS.iter().find(|f| f.name == name)
}

/// What a support session needs for a server function or page beyond being one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportNeeds {
    /// The console's own reads.
    Console,
    /// The vault's contents, when the owner included them.
    Vault,
    /// The data exports (and the access-history export), when the owner included them.
    Exports,
}

/// The only server functions a support session may call: reads. Every other one — every write, every "take
/// the secret", a step-up — is refused to it at the gate.
pub const SUPPORT_READS: &[(&str, SupportNeeds)] = &[
    ("get_me", SupportNeeds::Console),
    ("get_overview", SupportNeeds::Console),
    ("get_api_reference", SupportNeeds::Console),
    ("list_recent_events", SupportNeeds::Console),
    ("get_history", SupportNeeds::Console),
    ("get_event", SupportNeeds::Console),
    ("list_members", SupportNeeds::Console),
    ("list_invitations", SupportNeeds::Console),
    ("list_member_sessions", SupportNeeds::Console),
    ("get_keys", SupportNeeds::Console),
    ("get_key", SupportNeeds::Console),
    ("get_ip_rules", SupportNeeds::Console),
    ("get_panic", SupportNeeds::Console),
    ("get_ssh_keys", SupportNeeds::Console),
    ("list_webhooks", SupportNeeds::Console),
    ("get_webhook_deliveries", SupportNeeds::Console),
    ("get_approvals", SupportNeeds::Console),
    ("get_machines", SupportNeeds::Console),
    ("list_vault", SupportNeeds::Vault),
    ("get_vault_file", SupportNeeds::Vault),
    ("get_vault_key", SupportNeeds::Vault),
    ("get_data_exports", SupportNeeds::Exports),
    ("get_data_export", SupportNeeds::Exports),
];

/// What a support session needs to call server function `name`; `None`: never.
pub fn support_read(name: &str) -> Option<SupportNeeds> {
    SUPPORT_READS.iter().find(|(n, _)| *n == name).map(|(_, needs)| *needs)
}

/// What a support session needs to open page (or download) `path`.
pub fn support_page(path: &str) -> SupportNeeds {
    if path.starts_with("/vault") {
        SupportNeeds::Vault
    } else if path.starts_with("/data-export") || path.starts_with("/access-history/export") {
        SupportNeeds::Exports
    } else {
        SupportNeeds::Console
    }
}
