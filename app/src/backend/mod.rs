//! The domain, server-side only. All SQL lives under this module, grouped by subsystem:
//!
//! - `platform`: what every subsystem stands on (pool, clock, crypto, ids, request facts, text rules, mail);
//! - `access`: the tenant context and the permission proofs every privileged function takes;
//! - `identity`: accounts, passwords, sign-in, two-factor, sessions, reset, throttling, single-use links;
//! - `organisation`: tenants, members, invitations, erasure, closure, the panic button, the overview;
//! - `network`: a tenant's IP rules and the automatic blocks of attacking addresses;
//! - `keys`, `audit` (with the REST request log), `alerts` (with every email to members), `vault`, `export`;
//! - `ssh`: members' SSH keys, pasted or synced from GitHub.

pub mod access;
pub mod alerts;
pub mod approvals;
pub mod audit;
pub mod export;
pub mod identity;
pub mod keys;
pub mod machines;
pub mod network;
pub mod organisation;
pub mod platform;
pub mod ssh;
pub mod support;
pub mod vault;
pub mod webhooks;

use identity::sessions::SessionTimeouts;
use platform::clock::Clock;
use sqlx::AnyPool;
use std::sync::Arc;

/// Everything the domain needs, built once at start-up and shared by every request. One `Arc`: the
/// middleware, handlers and Leptos contexts clone it several times per request, and cloning a struct of
/// twenty shared parts field by field cost a third of a bare request's time (perf, `/healthz`).
#[derive(Clone, Debug)]
pub struct AppState(Arc<StateParts>);

impl AppState {
    pub fn new(parts: StateParts) -> Self {
        Self(Arc::new(parts))
    }

    /// Something that decides access changed and committed (a key, a membership, a network rule, a tenant's
    /// state, a block): this instance's caches forget at once, and the other instances are told
    /// (`access::changes`).
    pub fn access_changed(&self) {
        self.forget_access();
        self.changes.announce();
    }

    /// Empties this instance's caches of what decides access (also on another instance's notification).
    pub fn forget_access(&self) {
        self.key_guard.invalidate_all();
        self.ip_rules.invalidate_all();
        self.ip_guard.mark_stale();
        self.sftp.recheck();
    }
}

impl std::ops::Deref for AppState {
    type Target = StateParts;
    fn deref(&self) -> &StateParts {
        &self.0
    }
}

/// The parts of `AppState`.
#[derive(Debug)]
pub struct StateParts {
    pub pool: AnyPool,
    /// Keys derived from the server master key (sealing, peppers).
    pub keys: Arc<platform::crypto::ServerKeys>,
    /// Where member emails go (SMTP or the outbox folder).
    pub mailer: platform::mail::Mailer,
    /// The origin users reach the console at, for links in emails.
    pub public_url: Arc<str>,
    pub clock: Arc<dyn Clock>,
    pub hasher: identity::password::Hasher,
    pub timeouts: SessionTimeouts,
    /// Session records and memberships read recently, valid while nothing changed (`access::epoch`).
    pub session_cache: Arc<identity::sessions::SessionCache>,
    /// Overview figures and member lists read recently (`access::epoch::RecentReads`).
    pub recent: Arc<access::epoch::RecentReads>,
    /// API key verification cache, rate counters and canary throttle of this instance.
    pub key_guard: Arc<keys::verify::KeyGuard>,
    /// Failed sign-ins per client IP and the temporary automatic IP blocks of this instance.
    pub ip_guard: Arc<network::ip_guard::IpGuard>,
    /// Tenant network rules cache and refusal-record throttle of this instance.
    pub ip_rules: Arc<network::rules::IpRuleCache>,
    /// The batched writer of REST request events.
    pub api_log: audit::api_log::ApiLog,
    /// The REST API's reference, summarised from its OpenAPI document (the server builds it).
    pub api_reference: Arc<crate::model::ApiReferenceView>,
    /// The encrypted file vault (blob store, limits, scanner).
    pub vault: vault::Vault,
    /// The data export worker's wake-up call and lock.
    pub exports: export::Exports,
    /// The access-history anchors kept outside the database (`audit::anchor`).
    pub anchors: Arc<audit::anchor::AnchorLog>,
    /// The writer of error reports for the operator (`platform::failure`).
    pub failures: platform::failure::Reports,
    /// Wakes the one password-reset worker of this process (`identity::password_reset::process_queue`).
    pub reset_wake: Arc<tokio::sync::Notify>,
    /// This app's metrics (`platform::metrics`): recorded where decisions are made, served by the server.
    pub metrics: platform::metrics::Metrics,
    /// Notifications of access changes to the other instances (`access::changes`).
    pub changes: Arc<access::changes::Changes>,
    /// Where GitHub is and how often members' keys are synced from it (`ssh`).
    pub ssh: ssh::SshSettings,
    /// Where webhooks may be sent (`webhooks::address`).
    pub webhooks: webhooks::WebhookSettings,
    /// This instance's live SFTP sessions (`ssh::gateway::sessions`).
    pub sftp: Arc<ssh::gateway::sessions::Live>,
    /// Whether this server's own TLS listener asks clients for certificates (`machines`); false behind a
    /// TLS-terminating proxy, where machine certificates never arrive.
    pub machine_certs: bool,
}
