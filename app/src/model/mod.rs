//! Plain serde types shared by the server and the browser: what pages show and what server functions return.
//! Nothing here touches the database or a secret.

mod error;
mod time;
mod views;

pub use error::AppError;
pub use time::format_utc;
pub use views::{
    AuditEventView, Me, MemberView, MembersView, OverviewView, PasswordPolicyView, PendingView, RecoveryCodesView,
    SecurityView, SetupInfo, TotpEnrollmentView,
};
