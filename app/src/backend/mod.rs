//! The domain, server-side only: database, authentication, sessions, audit. All SQL lives under this module.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod context;
pub mod crypto;
pub mod db;
pub mod ids;
pub mod overview;
pub mod password;
pub mod request;
pub mod sessions;
pub mod tenants;
pub mod tokens;

use clock::Clock;
use sessions::SessionTimeouts;
use sqlx::AnyPool;
use std::sync::Arc;

/// Everything the domain needs, built once at start-up and shared by every request.
#[derive(Clone, Debug)]
pub struct AppState {
    pub pool: AnyPool,
    pub clock: Arc<dyn Clock>,
    pub hasher: password::Hasher,
    pub timeouts: SessionTimeouts,
}
