//! Everything about client addresses in one place: a tenant's own rules (`rules`: block list and console
//! allow list) and the automatic blocks of addresses that attack sign-in (`ip_guard`). The server's
//! `middleware::ip_block` is the one place both are enforced.

pub mod ip_guard;
pub mod rules;
