//! What every subsystem stands on: the pool, time, cryptography, ids, facts about the request, free-text
//! rules and outgoing mail. Nothing here knows about tenants or members.

pub mod clock;
pub mod counters;
pub mod crypto;
pub mod db;
pub mod failure;
pub mod gzip;
pub mod ids;
pub mod job_lock;
pub mod mail;
pub mod metrics;
pub mod request;
pub mod text;
