//! Shared widgets.

mod password_field;
mod shell;

pub use password_field::PasswordField;
pub use shell::{Console, ErrorNotice, Hydrated};
