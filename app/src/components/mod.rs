//! Shared widgets.

mod approval_reason;
mod erase_member;
mod export_link;
mod fresh_secret;
mod grant_checks;
mod hydration;
mod nav;
mod password_field;
mod sessions_table;
mod shell;
mod sign_in_chart;
mod step_up;
mod table_wrap;
mod vault_upload;

pub use approval_reason::ApprovalReason;
pub use erase_member::EraseMemberForm;
pub use export_link::ExportLinks;
pub use fresh_secret::{copy_text, text_download_href, FreshSecret};
pub use grant_checks::GrantChecks;
pub use hydration::{hydrates_on_intent, HydrateOnIntent};
pub use password_field::PasswordField;
pub use sessions_table::SessionsTable;
pub use shell::{error_notices, AuthPage, BrandMark, Console, ErrorNotice, Hydrated};
pub use sign_in_chart::SignInChart;
pub use step_up::{StepUpForm, SteppedUpSignal};
pub use table_wrap::TableWrap;
pub use vault_upload::{Upload, UploadForm, UploadState, Uploads};
