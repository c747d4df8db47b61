//! Start-up: the operator CLI, typed settings, secrets on disk, TLS and the listeners.

pub mod cli;
pub mod config;
pub mod secrets;
pub mod serve;
pub mod tls;
