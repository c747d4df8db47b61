//! Start-up: the operator CLI, typed settings, secrets on disk, TLS, the listeners and the metrics listener.

pub mod cli;
pub mod config;
pub mod metrics;
pub mod secrets;
pub mod serve;
pub mod support_cli;
pub mod tls;
