//! Typed ids. All are random UUIDs rendered as text: nothing in a URL is a guessable sequence. And the id of
//! the request being served, which is the reference of any internal error it meets.

use serde::{Deserialize, Serialize};
use std::fmt;

tokio::task_local! {
    /// The id of the request this task serves (set by the server's request-id middleware).
    pub static REQUEST_ID: String;
}

/// A fresh request id: 48 random bits in hex, from the thread's CSPRNG (seeded from the OS, no system call per
/// request: an id is a reference, not a secret).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    hex::encode(bytes)
}

/// The reference of an internal error, shown to the user and written to the log: the request's id (the one in
/// its `X-Request-Id` header) when a request is being served, else a fresh random one (background jobs).
pub fn op_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| new_request_id())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A tenant (a client company).
    TenantId
);
id_type!(
    /// A global account: one email, one password.
    AccountId
);
id_type!(
    /// An account's membership of one tenant.
    MembershipId
);

/// `n` random base-62 characters from the operating system's generator (secrets, tokens, public ids).
pub fn random_base62(n: usize) -> String {
    use rand::Rng as _;
    rand::rngs::OsRng.sample_iter(&rand::distributions::Alphanumeric).take(n).map(char::from).collect()
}

/// Audit event ids are time-ordered (UUIDv7) so the newest-first index stays append-friendly.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
