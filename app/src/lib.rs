//! Rampart's console: pages and server functions (both sides), and the domain (`backend`, server only).
#![forbid(unsafe_code)]

pub mod api;
mod app;
pub mod components;
pub mod model;
pub mod pages;
pub mod policy;

#[cfg(feature = "ssr")]
pub mod backend;

pub use app::{shell, App};

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
