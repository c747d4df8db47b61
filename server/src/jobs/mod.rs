//! Background jobs, one file each.

pub mod alert_delivery;
pub mod session_cleanup;
