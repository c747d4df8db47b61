//! Rampart's integration tests, linked once: each module is one concern (named as in the app: `keys`, `vault`,
//! `tenancy`, …) and runs the real server on port 0 over TLS with a fresh database — SQLite, or PostgreSQL
//! when RAMPART_TEST_POSTGRES_URL is set (`scripts/with-postgres.sh`). Run one module with
//! `cargo test -p server --test it vault::`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod alerts;
mod approvals;
mod assets;
mod audit;
mod audit_batches;
mod audit_filters;
mod audit_props;
mod audit_tamper;
mod auth;
mod backups;
mod binary;
mod cli;
mod closure;
mod crash;
mod doors;
mod erasure;
mod errors;
mod export;
mod instances;
mod invitations;
mod ip_rules;
mod key_attempts;
mod key_powers;
mod keys;
mod machines;
mod members;
mod memory;
mod metrics;
mod outage;
mod page_memo;
mod panic;
mod posture;
mod processes;
mod races;
mod rest;
mod sensitive;
mod sessions;
mod sftp;
mod ssh_keys;
mod support;
mod tenancy;
mod throttle;
mod transport;
mod two_factor;
mod vault;
mod vault_console;
mod vault_keys;
mod webhooks;
