//! One page per file.

mod access_history;
mod home;
mod not_found;
mod overview;
mod setup;
mod sign_in;

pub use access_history::AccessHistoryPage;
pub use home::HomePage;
pub use not_found::NotFoundPage;
pub use overview::OverviewPage;
pub use setup::SetupPage;
pub use sign_in::SignInPage;
