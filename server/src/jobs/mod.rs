//! Background jobs, one file each.

pub mod audit_retention;
pub mod session_cleanup;
