//! Plain serde types shared by the server and the browser: what pages show and what server functions return.
//! Nothing here touches the database or a secret.

mod approvals;
mod audit;
mod defence;
mod error;
mod export;
mod html;
mod keys;
mod machines;
mod permission;
mod ssh;
mod support;
mod time;
mod vault;
mod views;
mod webhooks;

pub use approvals::{ApprovalView, ApprovalsView};
pub use audit::{AuditEventDetailView, ChainKeyView, ChainReportView, ChoiceView, HistoryView, AUDIT_ACTIONS};
pub use defence::{DayCount, IpBlockView, IpRulesView, PanicKeyAction, PanicReport, PanicView, PostureView};
pub use error::AppError;
pub use export::{DataExportView, DataExportsView, ExportState};
pub use html::{escape_html, push_escaped};
pub use keys::{
    Access, ApiOperationView, ApiParamView, ApiReferenceView, ApiResource, FreshKeyView, KeyDetailView, KeyFilter,
    KeyInput, KeyKind, KeyPolicyView, KeyStatus, KeyUsageView, KeyView, KeysView, Scopes,
};
pub use machines::{FreshMachineToken, MachineTokenView, MachineView, MachinesView, ENROL_COMMANDS};
pub use permission::{allows, Permission, Role};
pub use ssh::{GithubLinkView, SftpAccessView, SftpSessionView, SshCertView, SshKeyView, SshKeysView};
pub use support::{ConsentView, SupportRequestView};
pub use time::{civil_from_days, format_rfc3339, format_utc, parse_date_utc};
pub use vault::{
    human_size, FreshLinkView, VaultFileDetailView, VaultFileView, VaultKeyView, VaultLinkView, VaultListView,
    VaultRotationView, VaultVersionView,
};
pub use views::{
    AuditEventView, ClosureView, InvitationView, InviteInfo, Me, MemberSessionsView, MemberView, MembersView,
    OverviewView, PasswordPolicyView, PendingView, RecoveryCodesView, SecurityView, SessionView, SetupInfo,
    TenantChoice, TotpEnrollmentView,
};
pub use webhooks::{
    FreshWebhookSecret, WebhookAttemptView, WebhookDeliveriesView, WebhookDeliveryView, WebhookEndpointView,
    WebhooksView,
};
