//! How a vault file leaves the server: always as an attachment (RFC 6266) whose name is encoded for any
//! browser (an ASCII `filename` plus the exact UTF-8 name in `filename*`, RFC 5987/8187), never sniffed or
//! rendered (`nosniff`, a sandboxing CSP), never cached by shared caches, with its length and its SHA-256
//! (`Repr-Digest`, RFC 9530) so a client can check what it received.

use app::backend::vault::read::{Download, PlainStream};
use axum::body::Body;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::Response;
use base64::Engine as _;

/// The `Content-Disposition` of a download named `name`.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Types a stored file is served as when it was uploaded with them: inert formats a browser does not run.
/// Anything else (HTML, SVG, XML, JavaScript, unknown types) is served as `application/octet-stream`, so
/// that even a browser that ignored `attachment` and `nosniff` would not render it as a page of this origin.
const SAFE_TYPES: &[&str] = &[
    "application/json",
    "application/octet-stream",
    "application/pdf",
    "application/zip",
    "application/gzip",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/csv",
    "text/plain",
];

/// The type a stored file is served as: its own essence when it is on the safe list, else octet-stream.
pub fn served_type(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    SAFE_TYPES.iter().copied().find(|t| *t == essence).unwrap_or("application/octet-stream")
}

/// The sandbox every download carries (kept by the security-headers middleware, which only adds the page CSP
/// to responses that set none).
pub const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

/// A streamed attachment: its type, length and name, never sniffed, rendered or cached by others.
pub fn attachment(body: PlainStream, content_type: &str, size: u64, name: &str) -> Response {
    let mut res = Response::new(Body::from_stream(body));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(served_type(content_type)));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOWNLOAD_CSP));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    res
}

/// The streamed response of a download.
pub fn response(d: Download) -> Response {
    let mut res = attachment(d.body, &d.content_type, d.size, &d.name);
    let h = res.headers_mut();
    if let Ok(bytes) = hex::decode(&d.sha256) {
        let digest = format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(bytes));
        if let Ok(v) = HeaderValue::from_str(&digest) {
            h.insert(HeaderName::from_static("repr-digest"), v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", d.version_id)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&d.number.to_string()) {
        h.insert(HeaderName::from_static("x-rampart-version"), v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inert_types_are_served_as_themselves() {
        assert_eq!(served_type("text/html; charset=utf-8"), "application/octet-stream");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
        assert_eq!(served_type("application/xhtml+xml"), "application/octet-stream");
        assert_eq!(served_type("Text/Plain; charset=utf-8"), "text/plain");
        assert_eq!(served_type("application/pdf"), "application/pdf");
        assert_eq!(served_type(""), "application/octet-stream");
    }

    #[test]
    fn names_are_encoded_for_every_browser() {
        assert_eq!(
            content_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            content_disposition("Bilan été \"final\";.pdf"),
            "attachment; filename=\"Bilan _t_ _final__.pdf\"; filename*=UTF-8''Bilan%20%C3%A9t%C3%A9%20%22final%22%3B.pdf"
        );
        assert!(!content_disposition("a\r\nSet-Cookie: x").contains('\n'));
    }
}
