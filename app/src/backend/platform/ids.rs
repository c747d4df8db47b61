//! Typed ids. All are random UUIDs rendered as text: nothing in a URL is a guessable sequence.

use serde::{Deserialize, Serialize};
use std::fmt;

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

/// Audit event ids are time-ordered (UUIDv7) so the newest-first index stays append-friendly.
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
