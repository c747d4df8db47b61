//! Signed-in pages served again without rendering them again, when nothing they show can have changed.
//!
//! A console page is a function of the member's context (role, grants, names: the gate resolves it on every
//! request), the URL, and what its server functions read from the access epoch's caches. Each such read is
//! recorded with the cached value's generation (`epoch::RenderReads`), so a rendering kept here is served again
//! only while, at that moment:
//! - the gate has just accepted the request (session, network rules, closure, support: nothing is skipped);
//! - the member's context equals the one it was rendered for, for the same membership and the same URL;
//! - the access epoch has not moved since the rendering began (any change made on this instance, including
//!   every successful form post, and any change pushed from another instance);
//! - every cached value it read is still the one its cache would serve: same generation, same epoch, and at
//!   most `epoch::TTL` old, so a change made by another process shows no later than it did before.
//!
//! Only the pages in `KEPT_PAGES` are kept, each of which reads nothing but the recorded caches and reads
//! (the tests change each of their inputs and look at the next response). A rendering that recorded no read,
//! failed, set a cookie or is large is not kept. The one per-response value in a page, the CSP nonce, is
//! written afresh into every response.
//!
//! A kept page is served gzipped to clients that accept it (every browser does): compressed once, the first
//! time it is served again, with the nonce spliced in uncompressed (`platform::gzip`). The rendering
//! response itself goes out as rendered, so a page rendered once and never served again costs no compression.

use super::render_guard;
use app::backend::access::epoch::{self, ReadSet, RenderReads};
use app::backend::access::{CurrentAuth, TenantCtx};
use app::backend::platform::gzip;
use app::backend::platform::metrics::Metrics;
use app::backend::platform::request::CspNonce;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// The pages that may be kept: the ones members reload most, whose every input is recorded.
const KEPT_PAGES: [&str; 2] = ["/overview", "/members"];

/// A larger page is rendered every time.
const MAX_PAGE: usize = 256 * 1024;

/// Bytes kept in all before the store starts afresh (the bench's two pages for 51 members are ~45 KB).
const MAX_BYTES: usize = 4 * 1024 * 1024;

/// The renderings kept, by membership and URL.
#[derive(Clone, Default)]
pub struct PageMemo {
    inner: Arc<RwLock<Store>>,
}

#[derive(Default)]
struct Store {
    pages: HashMap<(String, String), Arc<Kept>>,
    bytes: usize,
    /// When pages that can no longer be served were last dropped.
    swept: Option<std::time::Instant>,
}

/// How often pages that can no longer be served are dropped: every kept page read a cached value that expires
/// within `epoch::TTL`, so nothing stays in memory much longer than that (a removed or erased member's page
/// included).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

struct Kept {
    ctx: TenantCtx,
    epoch: u64,
    reads: ReadSet,
    headers: HeaderMap,
    /// The page split where its CSP nonce stood.
    pieces: Vec<Bytes>,
    len: usize,
    /// The pieces compressed, once a client that accepts gzip is served the page again.
    gzipped: OnceLock<gzip::Spliced>,
}

impl Kept {
    fn serves(&self, ctx: &TenantCtx) -> bool {
        self.ctx == *ctx && self.servable()
    }

    /// Nothing the page shows can have changed: the same access epoch, and every value it read still current.
    fn servable(&self) -> bool {
        self.epoch == epoch::current() && self.reads.current()
    }

    fn response(&self, nonce: &str, gzip: bool) -> Response {
        if gzip {
            // Two first requests may both compress; neither waits for the other, and one result is kept.
            if self.gzipped.get().is_none() {
                let _ = self.gzipped.set(gzip::Spliced::new(self.pieces.clone()));
            }
            if let Some(spliced) = self.gzipped.get() {
                let mut res = Response::new(Body::from(spliced.with(nonce.as_bytes())));
                *res.headers_mut() = self.headers.clone();
                res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                return res;
            }
        }
        let mut body = Vec::with_capacity(self.len + self.pieces.len() * nonce.len());
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(nonce.as_bytes());
            }
            body.extend_from_slice(piece);
        }
        let mut res = Response::new(Body::from(body));
        *res.headers_mut() = self.headers.clone();
        res
    }
}

impl PageMemo {
    fn get(&self, key: &(String, String)) -> Option<Arc<Kept>> {
        self.inner.read().ok()?.pages.get(key).cloned()
    }

    fn keep(&self, key: (String, String), kept: Kept) {
        let Ok(mut store) = self.inner.write() else { return };
        let size = kept.len + key.0.len() + key.1.len();
        if store.bytes + size > MAX_BYTES || store.swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY) {
            store.pages.retain(|_, k| k.servable());
            store.bytes = store.pages.iter().map(|(key, k)| k.len + key.0.len() + key.1.len()).sum();
            store.swept = Some(std::time::Instant::now());
            if store.bytes + size > MAX_BYTES {
                store.pages.clear();
                store.bytes = 0;
            }
        }
        if let Some(old) = store.pages.insert(key.clone(), Arc::new(kept)) {
            store.bytes -= old.len + key.0.len() + key.1.len();
        }
        store.bytes += size;
    }
}

/// The member's context when this request may be served from, or kept in, the memo.
fn keepable(req: &Request) -> Option<TenantCtx> {
    if req.method() != Method::GET || !KEPT_PAGES.contains(&req.uri().path()) {
        return None;
    }
    let ctx = req.extensions().get::<CurrentAuth>()?.0.clone()?;
    // A support session's pages carry its banner, read from its request on every page.
    ctx.support_request().is_none().then_some(ctx)
}

/// Serves a kept page, or renders it (`render_guard`) and keeps it when it may be kept. Called by the session
/// gate (`gate::session_gate`) for a request it has let through, so a kept page is never served without it.
pub async fn serve(memo: &PageMemo, metrics: &Metrics, mut req: Request, next: Next) -> Response {
    let (Some(ctx), Some(nonce)) = (keepable(&req), req.extensions().get::<CspNonce>().map(|n| n.0.clone())) else {
        return render_guard::render(next, req, metrics).await;
    };
    let key = (ctx.membership_id().as_str().to_owned(), req.uri().to_string());
    if let Some(kept) = memo.get(&key).filter(|k| k.serves(&ctx)) {
        metrics.page_served_kept();
        return kept.response(&nonce, gzip::accepted(req.headers()));
    }
    let began = epoch::current();
    let reads = Arc::new(RenderReads::default());
    req.extensions_mut().insert(reads.clone());
    let mut res = render_guard::render(next, req, metrics).await;
    // The same URL may be answered gzipped next time: caches must key on the encoding asked for.
    res.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
    if res.status() != StatusCode::OK || res.headers().contains_key(header::SET_COOKIE) {
        return res;
    }
    let (parts, body) = res.into_parts();
    // The page is already whole in memory (every route renders `SsrMode::Async`): this only gathers it.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return crate::errors::error_response(&app::model::AppError::Unavailable, true);
    };
    if let Some(read) = reads.take().filter(|_| bytes.len() <= MAX_PAGE) {
        let pieces = split(&bytes, nonce.as_bytes());
        let mut headers = parts.headers.clone();
        headers.remove(header::CONTENT_LENGTH);
        let kept = Kept { ctx, epoch: began, reads: read, headers, pieces, len: bytes.len(), gzipped: OnceLock::new() };
        memo.keep(key, kept);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `page` cut at every occurrence of `nonce`.
fn split(page: &Bytes, nonce: &[u8]) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while let Some(found) = find(&page[at..], nonce) {
        let pos = at + found;
        pieces.push(page.slice(start..pos));
        start = pos + nonce.len();
        at = start;
    }
    pieces.push(page.slice(start..));
    pieces
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(epoch: u64, reads: ReadSet) -> Kept {
        let ctx: TenantCtx = serde_json::from_value(serde_json::json!({
            "tenant_id": "t", "account_id": "a", "membership_id": "m", "role": "owner", "email": "o@example.com",
            "tenant_name": "T"
        }))
        .unwrap();
        Kept { ctx, epoch, reads, headers: HeaderMap::new(), pieces: vec![], len: 10, gzipped: OnceLock::new() }
    }

    /// A rendering's reads: one straight from the database, current while the epoch stays.
    async fn read_now() -> ReadSet {
        let reads = Arc::new(RenderReads::default());
        RenderReads::scope(reads.clone(), async { RenderReads::note_database_read(epoch::current(), || true) }).await;
        reads.take().unwrap()
    }

    /// Pages that can no longer be served leave memory at the next sweep, not only when the store is full.
    #[tokio::test]
    async fn pages_that_cannot_be_served_are_dropped() {
        let memo = PageMemo::default();
        memo.keep(("m".into(), "/overview".into()), kept(epoch::current(), read_now().await));
        epoch::bump();
        if let Ok(mut store) = memo.inner.write() {
            store.swept = std::time::Instant::now().checked_sub(SWEEP_EVERY);
        }
        memo.keep(("m".into(), "/members".into()), kept(epoch::current(), read_now().await));
        let store = memo.inner.read().unwrap();
        assert!(!store.pages.contains_key(&("m".to_owned(), "/overview".to_owned())), "the stale page is gone");
        assert_eq!(store.bytes, 10 + 1 + "/members".len());
    }

    #[test]
    fn the_nonce_is_cut_out_wherever_it_stands() {
        let page = Bytes::from_static(b"<script nonce=\"N0\">a</script><p>N0</p>N0");
        let pieces = split(&page, b"N0");
        assert_eq!(pieces, ["<script nonce=\"", "\">a</script><p>", "</p>", ""]);
        let none = split(&page, b"zz");
        assert_eq!(none, vec![page]);
    }
}
