//! One page per file.

mod access_history;
mod confirm_access;
mod forgot_password;
mod home;
mod invite;
mod member_sessions;
mod members;
mod not_found;
mod organisations;
mod overview;
mod recovery_codes;
mod reset_password;
mod security;
mod sessions;
mod setup;
mod sign_in;
mod sign_in_two_factor;
mod two_factor_setup;

pub use access_history::AccessHistoryPage;
pub use confirm_access::ConfirmAccessPage;
pub use forgot_password::ForgotPasswordPage;
pub use home::HomePage;
pub use invite::InvitePage;
pub use member_sessions::MemberSessionsPage;
pub use members::MembersPage;
pub use not_found::NotFoundPage;
pub use organisations::OrganisationsPage;
pub use overview::OverviewPage;
pub use recovery_codes::RecoveryCodesPage;
pub use reset_password::ResetPasswordPage;
pub use security::SecurityPage;
pub use sessions::SessionsPage;
pub use setup::SetupPage;
pub use sign_in::SignInPage;
pub use sign_in_two_factor::SignInTwoFactorPage;
pub use two_factor_setup::TwoFactorSetupPage;
