//! The domain, server-side only: database, authentication, sessions, audit. All SQL lives under this module.

pub mod accounts;
pub mod alerts;
pub mod api_log;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod closure;
pub mod context;
pub mod crypto;
pub mod db;
pub mod erasure;
pub mod export;
pub mod ids;
pub mod invitations;
pub mod ip_rules;
pub mod keys;
pub mod mail;
pub mod members;
pub mod notify;
pub mod organisations;
pub mod overview;
pub mod panic;
pub mod password;
pub mod password_reset;
pub mod request;
pub mod security;
pub mod sessions;
pub mod tenants;
pub mod text;
pub mod throttle;
pub mod tokens;
pub mod two_factor;
pub mod vault;

use clock::Clock;
use sessions::SessionTimeouts;
use sqlx::AnyPool;
use std::sync::Arc;

/// Everything the domain needs, built once at start-up and shared by every request.
#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: AnyPool,
    /// Keys derived from the server master key (sealing, peppers).
    pub keys: Arc<crypto::ServerKeys>,
    /// Where member emails go (SMTP or the outbox folder).
    pub mailer: mail::Mailer,
    /// The origin users reach the console at, for links in emails.
    pub public_url: Arc<str>,
    pub clock: Arc<dyn Clock>,
    pub hasher: password::Hasher,
    pub timeouts: SessionTimeouts,
    /// API key verification cache, rate counters and canary throttle of this instance.
    pub key_guard: Arc<keys::verify::KeyGuard>,
    /// Failed sign-ins per client IP and the temporary automatic IP blocks of this instance.
    pub ip_guard: Arc<throttle::ip_guard::IpGuard>,
    /// Tenant network rules cache and refusal-record throttle of this instance.
    pub ip_rules: Arc<ip_rules::IpRuleCache>,
    /// The batched writer of REST request events.
    pub api_log: api_log::ApiLog,
    /// The REST API's reference, summarised from its OpenAPI document (the server builds it).
    pub api_reference: Arc<crate::model::ApiReferenceView>,
    /// The encrypted file vault (blob store, limits, scanner).
    pub vault: vault::Vault,
    /// The data export worker's wake-up call and lock.
    pub exports: export::Exports,
    /// The access-history anchors kept outside the database (`audit::anchor`).
    pub anchors: Arc<audit::anchor::AnchorLog>,
    /// Wakes the one password-reset worker of this process (`password_reset::process_queue`).
    pub reset_wake: Arc<tokio::sync::Notify>,
}
