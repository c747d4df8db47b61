//! Shared widgets.

mod password_field;
mod shell;
mod step_up;

pub use password_field::PasswordField;
pub use shell::{Console, ErrorNotice, Hydrated};
pub use step_up::StepUpForm;
