//! Request middleware, outermost first: security headers, client IP, cross-origin refusal, session gate.

pub mod client_ip;
pub mod gate;
pub mod headers;
pub mod origin;
