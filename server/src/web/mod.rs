//! The console's plain HTTP handlers beside its pages and server functions: file transfers in and out of the
//! vault, data-export downloads, and the access-history export.

pub mod assets;
pub mod download;
pub mod export;
pub mod history_export;
pub mod support;
pub mod vault;
