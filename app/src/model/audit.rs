//! What the access-history pages show.

use super::AuditEventView;
use serde::{Deserialize, Serialize};

/// One event with its place in the tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEventDetailView {
    pub event: AuditEventView,
    pub seq: Option<i64>,
    pub prev_mac: Option<String>,
    pub mac: Option<String>,
    /// The member the event is about, when it is one of the tenant's members.
    pub member_id: Option<String>,
}

/// The result of checking a chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReportView {
    /// The tenant id, or `-` for events without a tenant.
    pub chain: String,
    pub ok: bool,
    /// Events whose MAC and link were checked.
    pub checked: i64,
    /// The first sequence number still kept (after the retention checkpoint).
    pub first_seq: i64,
    /// The sequence number the stored head names.
    pub head_seq: i64,
    /// Where the chain first breaks, and how.
    pub broken_seq: Option<i64>,
    pub broken_event: Option<String>,
    pub problem: Option<String>,
}

/// A choice in a filter list: value and label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceView {
    pub value: String,
    pub label: String,
}

/// The access-history page: one page of filtered events and what the filter form offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub events: Vec<AuditEventView>,
    pub next_cursor: Option<String>,
    pub members: Vec<ChoiceView>,
    pub keys: Vec<ChoiceView>,
    pub retention_days: i64,
    /// Whether the viewer may change the retention (admins).
    pub can_manage: bool,
    /// Whether the viewer may reveal the chain key (owners).
    pub is_owner: bool,
    /// The latest integrity check (an `audit.verify` event), if any.
    pub last_verification: Option<AuditEventView>,
}

/// The tenant's chain keys for offline verification (hex), by key id, current first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainKeyView {
    pub chain: String,
    pub keys: Vec<ChoiceView>,
}

/// Every action name the access history records, for the filter list.
pub const AUDIT_ACTIONS: &[&str] = &[
    "sign_in",
    "sign_in.password",
    "sign_in.second_factor",
    "sign_out",
    "step_up",
    "password.set",
    "password.change",
    "password.reset",
    "password.reset_request",
    "setup_link.use",
    "two_factor.enable",
    "two_factor.disable",
    "two_factor.replay",
    "two_factor.reset_by_admin",
    "recovery_code.use",
    "recovery_codes.regenerate",
    "policy.two_factor",
    "member.add",
    "member.update",
    "member.deactivate",
    "member.reactivate",
    "member.remove",
    "member.erased",
    "invitation.create",
    "invitation.resend",
    "invitation.revoke",
    "invitation.accept",
    "session.revoke",
    "session.revoke_others",
    "session.revoke_member",
    "tenant.create",
    "tenant.switch",
    "ip.auto_block",
    "ip_block.add",
    "ip_block.remove",
    "ip_rules.refused",
    "console_allow_list.update",
    "tenant.panic",
    "tenant.panic_undo",
    "tenant.closure_request",
    "tenant.closure_cancel",
    "tenant.closed",
    "key.unfreeze",
    "key.freeze",
    "api.request",
    "key.create",
    "key.update",
    "key.roll",
    "key.end_grace",
    "key.revoke",
    "key.canary_used",
    "key.auth_failed",
    "key_policy.update",
    "audit.retention",
    "audit.purge",
    "audit.verify",
    "audit.export",
    "audit.chain_key_reveal",
    "vault.upload",
    "vault.download",
    "vault.delete",
    "vault.undelete",
    "vault.restore_version",
    "vault.purge",
    "vault.link_create",
    "vault.link_revoke",
    "vault.link_use",
    "vault.key_rotate",
    "vault.key_rotated",
    "data_export.start",
    "data_export.ready",
    "data_export.download",
    "data_export.failed",
    "data_export.expire",
    "webhook.created",
    "webhook.deleted",
    "webhook.enabled",
    "webhook.disabled",
    "webhook.secret_rotated",
    "webhook.test",
    "webhook.redelivered",
    "approval.required",
    "approval.not_required",
    "approval.requested",
    "approval.approved",
    "approval.refused",
    "approval.cancelled",
    "support.consent",
    "support.requested",
    "support.approved",
    "support.refused",
    "support.revoked",
    "support.session_started",
    "support.page_view",
    "machine.token_created",
    "machine.token_revoked",
    "machine.enrolled",
    "machine.renewed",
    "machine.revoked",
    "machine.refused",
];
