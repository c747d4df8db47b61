//! Request middleware, outermost first: the front (request id, error reports, security headers, access epoch,
//! client IP, automatic IP blocks, in one layer), then for the console the route noted and cross-origin refusal
//! (one layer), tower-sessions, and the session gate with, behind it, the memo of renderings and the render guard
//! (one layer).

pub mod access_epoch;
pub mod client_ip;
pub mod error_report;
pub mod front;
pub mod gate;
pub mod headers;
pub mod ip_block;
pub mod origin;
pub mod page_memo;
pub mod render_guard;
pub mod request_id;
