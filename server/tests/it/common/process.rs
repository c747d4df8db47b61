//! Helpers for tests that run the `rampart` binary as a process of its own.

use std::path::Path;
use std::time::Duration;

/// A free loopback port (bound, then released for the process to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A browser-like client (cookies, no redirects) trusting only the development certificate that the server run
/// in `dir` (data folder `dir/data`) made.
pub fn client_trusting(dir: &Path) -> reqwest::Client {
    builder_trusting(dir).build().unwrap()
}

/// `client_trusting`, whose every request says it was forwarded for `ip` (for a server that trusts loopback as
/// its proxy: the client then counts as `ip` in the throttles and the IP guard).
pub fn client_trusting_from(dir: &Path, ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    builder_trusting(dir).default_headers(headers).build().unwrap()
}

fn builder_trusting(dir: &Path) -> reqwest::ClientBuilder {
    let pem = std::fs::read(dir.join("data/tls/dev-cert.pem")).unwrap();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(60))
}
