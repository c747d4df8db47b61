//! The built site's files: under a path that changes with their contents, cached for a year, sent
//! precompressed to clients that accept it, and nothing else under that path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::TestApp;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprinted_files_are_immutable_and_precompressed() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("rampart.css"), "body { color: black }").unwrap();
    std::fs::write(pkg.join("rampart.css.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("rampart.css.gz"), b"gzip bytes").unwrap();
    std::fs::write(pkg.join("rampart.js"), "export default 1;").unwrap();
    let print = server::web::assets::fingerprint(&pkg);
    let root = site.path().to_path_buf();
    let app = TestApp::spawn_with(|s| s.site_root = root).await;
    let client = app.client();

    // The page names the fingerprinted stylesheet and scripts; it is itself never cached.
    let page = app.get(&client, "/sign-in").await;
    assert_eq!(page.headers()["cache-control"], "no-store");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("/pkg/{print}/rampart.css")), "{html}");
    assert!(html.contains(&format!("/pkg/{print}/rampart.js")), "{html}");
    // The sign-in page is a first visit's page: it preloads nothing and loads the app on the visitor's first
    // focus or press (its script carries the CSP nonce like every script); signed-in pages preload it at once.
    assert!(!html.contains("modulepreload") && !html.contains("rel=\"preload\""), "{html}");
    let script =
        html.split("<script").find(|s| s.contains("data-hydrate=\"on-intent\"")).expect("the on-intent script");
    let nonce = csp_nonce(&csp);
    assert!(script.contains(&format!("nonce=\"{nonce}\"")), "{script}");
    assert!(script.contains("focusin") && script.contains(&format!("/pkg/{print}/rampart")), "{script}");
    let (owner, _) = app.signed_in("Assets").await;
    let overview = app.get(&owner, "/overview").await.text().await.unwrap();
    assert!(overview.contains(&format!("rel=\"modulepreload\" href=\"/pkg/{print}/rampart.js\"")), "{overview}");
    assert!(!overview.contains("data-hydrate=\"on-intent\""));

    let css = format!("/pkg/{print}/rampart.css");
    let get = |encoding: &'static str| {
        let req = client.get(app.url(&css));
        if encoding.is_empty() {
            req
        } else {
            req.header("accept-encoding", encoding)
        }
    };
    let res = get("br, gzip").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()["content-encoding"], "br");
    assert!(res.headers()["vary"].to_str().unwrap().to_ascii_lowercase().contains("accept-encoding"));
    assert_eq!(res.headers()["content-type"], "text/css");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"brotli bytes");
    let res = get("gzip").send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"gzip bytes");
    let res = get("").send().await.unwrap();
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.text().await.unwrap(), "body { color: black }");

    // Another build's path and a missing file are 404; a way out of the directory reaches nothing; none of
    // these answers is cacheable for a year.
    for (path, expected) in [
        ("/pkg/0000000000000000/rampart.css".to_owned(), Some(StatusCode::NOT_FOUND)),
        (format!("/pkg/{print}/missing.css"), Some(StatusCode::NOT_FOUND)),
        (format!("/pkg/{print}/..%2frampart.css"), Some(StatusCode::NOT_FOUND)),
        (format!("/pkg/{print}/%2e%2e/%2e%2e/Cargo.toml"), None),
    ] {
        let res = client.get(app.url(&path)).send().await.unwrap();
        match expected {
            Some(status) => assert_eq!(res.status(), status, "{path}"),
            None => assert_ne!(res.status(), StatusCode::OK, "{path}"),
        }
        let policy = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
        assert_ne!(policy.as_deref(), Some("public, max-age=31536000, immutable"), "{path}");
    }
    // A handler elsewhere cannot make a response immutable: only fingerprinted files are.
    let res = client.get(app.url("/pkg/rampart.css")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-cache");

    // A new build is a new path.
    std::fs::write(pkg.join("rampart.css"), "body { color: navy }").unwrap();
    assert_ne!(server::web::assets::fingerprint(&pkg), print);
}

/// The script nonce a response's Content-Security-Policy allows.
fn csp_nonce(csp: &str) -> String {
    let start = csp.find("'nonce-").expect("a nonce in the policy") + "'nonce-".len();
    csp[start..].chars().take_while(|c| *c != '\'').collect()
}
