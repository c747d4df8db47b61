//! Request middleware, outermost first: the front (request id, error reports, security headers, access epoch,
//! client IP, automatic IP blocks, in one layer), then for the console cross-origin refusal, session gate, and
//! (for a few pages) the memo of renderings.

pub mod access_epoch;
pub mod client_ip;
pub mod error_report;
pub mod front;
pub mod gate;
pub mod headers;
pub mod ip_block;
pub mod origin;
pub mod page_memo;
pub mod request_id;
