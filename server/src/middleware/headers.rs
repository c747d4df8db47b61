//! Security headers on every response: pages, server functions, static files, 404, 405, 500.
//!
//! CSP per OWASP/MDN: scripts only from this origin plus the per-response nonce (Leptos' hydration script)
//! and `wasm-unsafe-eval` for WebAssembly; no inline scripts, no plugins, no `<base>`, no framing. HSTS one
//! year with subdomains (also behind a TLS-terminating proxy). `Cache-Control: no-store` on everything except
//! the static site files, so nothing private stays in a cache or the back/forward history.
//!
//! The REST API (`/api/v1/`) answers JSON to machines, never a document: its policy is a fixed one that allows
//! nothing at all (no nonce to mint, no `Permissions-Policy`, which only documents read). A JSON answer opened in
//! a browser tab or a frame runs nothing and cannot be framed.

use app::backend::platform::request::CspNonce;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use std::sync::Arc;

/// Static files that may be cached (revalidated on every use, or for a year when fingerprinted).
pub fn is_static_path(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/.well-known/")
        || matches!(path, "/favicon.svg" | "/favicon.ico" | "/robots.txt")
}

/// The policy of every REST API answer: data, never a document.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

fn csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// What a request's answer will need: whether it is the REST API's, its CSP nonce, whether it may be cached.
pub struct Pending {
    api: bool,
    nonce: Option<Arc<str>>,
    cacheable: bool,
}

impl Pending {
    /// Mints the CSP nonce the page shell uses (`CspNonce`); the REST API needs none.
    pub fn begin(req: &mut Request) -> Self {
        let api = req.uri().path().starts_with("/api/v1/");
        let nonce = (!api).then(|| {
            let mut bytes = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut bytes);
            let nonce: Arc<str> = URL_SAFE_NO_PAD.encode(bytes).into();
            req.extensions_mut().insert(CspNonce(nonce.clone()));
            nonce
        });
        Self { api, nonce, cacheable: is_static_path(req.uri().path()) }
    }

    /// Adds the headers to the answer.
    pub fn apply(self, res: &mut Response) {
        let Self { api, nonce, cacheable } = self;
        let h = res.headers_mut();
        // Room for what follows (and CORS, request id), so the map grows once instead of several times.
        h.reserve(14);
        let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
            h.insert(name, HeaderValue::from_static(value));
        };
        // A handler that set its own policy set a stricter one (downloads: a sandbox with nothing allowed): keep it.
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            match nonce.as_deref() {
                Some(nonce) => {
                    if let Ok(v) = HeaderValue::from_str(&csp(nonce)) {
                        h.insert(header::CONTENT_SECURITY_POLICY, v);
                    }
                }
                None => set(h, header::CONTENT_SECURITY_POLICY, API_CSP),
            }
        }
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
        set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        set(h, header::REFERRER_POLICY, "same-origin");
        set(h, header::X_FRAME_OPTIONS, "DENY");
        if !api {
            set(
            h,
            HeaderName::from_static("permissions-policy"),
            "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
        );
        }
        set(h, HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
        set(h, HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
        // Fingerprinted files (`web::assets`) keep their year-long policy: their path changes with their contents.
        let immutable = cacheable && h.get(header::CACHE_CONTROL).is_some_and(|v| v == crate::web::assets::IMMUTABLE);
        if cacheable {
            if !immutable {
                set(h, header::CACHE_CONTROL, "no-cache");
            }
        } else {
            // Keep a handler's `private, no-store` (downloads); anything else becomes `no-store`.
            let keeps =
                h.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("no-store"));
            if !keeps {
                set(h, header::CACHE_CONTROL, "no-store");
            }
            set(h, header::PRAGMA, "no-cache");
        }
    }
}
