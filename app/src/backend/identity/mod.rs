//! Who someone is: global accounts, passwords, signing in and out, two-factor, sessions, password reset,
//! single-use links, the sign-in throttles, and the organisations an account belongs to.

pub mod accounts;
pub mod auth;
pub mod organisations;
pub mod password;
pub mod password_reset;
pub mod security;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod two_factor;
