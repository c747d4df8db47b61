//! Background jobs, one file each.

pub mod alert_delivery;
pub mod audit_anchor;
pub mod audit_retention;
pub mod data_export;
pub mod error_digest;
pub mod password_reset;
pub mod session_cleanup;
pub mod tenant_closure;
pub mod vault_maintenance;
