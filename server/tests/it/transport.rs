//! Transport and browser-facing defences: TLS-only versions, security headers everywhere, cross-origin
//! refusal, the HTTP redirect, outages answered 503 and recovered from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::{TestApp, PASSWORD};
use reqwest::StatusCode;

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    let get = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_else(|| panic!("{what}: no {n}"));
    let csp = get("content-security-policy");
    for part in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "script-src 'self' 'nonce-"] {
        assert!(csp.contains(part), "{what}: CSP lacks {part}: {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(get("strict-transport-security"), "max-age=31536000; includeSubDomains", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    assert_eq!(get("cross-origin-opener-policy"), "same-origin", "{what}");
    assert!(get("permissions-policy").contains("camera=()"), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let (client, _) = app.signed_in("Headers").await;
    let cases = [
        ("page", client.get(app.url("/sign-in")).send().await.unwrap(), StatusCode::SEE_OTHER),
        ("signed-in page", client.get(app.url("/overview")).send().await.unwrap(), StatusCode::OK),
        ("server function", app.call(&client, "get_me", &[]).await, StatusCode::OK),
        ("static file", client.get(app.url("/favicon.svg")).send().await.unwrap(), StatusCode::OK),
        ("404", client.get(app.url("/no/such/page")).send().await.unwrap(), StatusCode::NOT_FOUND),
        ("404 static", client.get(app.url("/pkg/missing.js")).send().await.unwrap(), StatusCode::NOT_FOUND),
        (
            "405",
            client.put(app.url("/healthz")).header("origin", &app.base).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        ("signed-out gate", app.client().get(app.url("/overview")).send().await.unwrap(), StatusCode::SEE_OTHER),
    ];
    for (what, res, status) in &cases {
        assert_eq!(res.status(), *status, "{what}");
        assert_security_headers(res, what);
    }
    // The page's nonce is the one in its CSP, and nothing private is cacheable.
    let res = client.get(app.url("/overview")).send().await.unwrap();
    let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "hydration script carries the nonce");
}

/// The REST API answers data to machines: a policy that allows nothing (no script, no frame, a sandbox), the
/// transport headers as everywhere, and none of a page's parts (a nonce, a permissions policy).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_carry_a_policy_that_allows_nothing() {
    let app = TestApp::spawn().await;
    let (client, _) = app.signed_in("Headers").await;
    let (_, key) = common::keys::create_key(&app, &client, "read", &[]).await;
    let api = app.client();
    let cases = [
        ("keyed read", common::keys::api_get(&app, &key, "/api/v1/members").await, StatusCode::OK),
        ("no key", api.get(app.url("/api/v1/members")).send().await.unwrap(), StatusCode::UNAUTHORIZED),
        ("unknown path", common::keys::api_get(&app, &key, "/api/v1/nothing-here").await, StatusCode::NOT_FOUND),
        ("document", api.get(app.url("/api/v1/openapi.json")).send().await.unwrap(), StatusCode::OK),
        // A browser's session cookie opens nothing here, and the answer is still data.
        ("cookie only", client.get(app.url("/api/v1/members")).send().await.unwrap(), StatusCode::UNAUTHORIZED),
    ];
    for (what, res, status) in &cases {
        assert_eq!(res.status(), *status, "{what}");
        let h = res.headers();
        assert_eq!(h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'; sandbox", "{what}");
        assert_eq!(h["strict-transport-security"], "max-age=31536000; includeSubDomains", "{what}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(h["x-frame-options"], "DENY", "{what}");
        assert_eq!(h["cache-control"], "no-store", "{what}");
        assert!(h.get("permissions-policy").is_none(), "{what}: a document's header on data");
    }
    // The console's own JSON (server functions) is read by its pages and keeps the page policy.
    let res = app.call(&client, "get_me", &[]).await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_txt_is_served() {
    let app = TestApp::spawn().await;
    let res = app.client().get(app.url("/.well-known/security.txt")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("Contact:") && body.contains("Expires:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_posts_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let email = app.owner("Csrf").await;
    let client = app.client();
    for (origin, site) in [(Some("https://evil.example"), None), (None, Some("cross-site")), (Some("null"), None)] {
        let mut req = client.post(app.url("/api/sign_in")).form(&[("email", email.as_str()), ("password", PASSWORD)]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        assert!(common::session_set_cookie(&res).is_none());
    }
    use sqlx::Row as _;
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM audit_events WHERE action = 'sign_in'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "no sign-in was even attempted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tls_1_2_and_1_3_are_offered() {
    let app = TestApp::spawn().await;
    let pem = std::fs::read(app.settings.data_dir.join("tls/dev-cert.pem")).unwrap();
    let cert = reqwest::Certificate::from_pem(&pem).unwrap();
    let connect = |min: reqwest::tls::Version, max: reqwest::tls::Version| {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(cert.clone())
            .min_tls_version(min)
            .max_tls_version(max)
            .build()
            .unwrap()
    };
    for v in [reqwest::tls::Version::TLS_1_2, reqwest::tls::Version::TLS_1_3] {
        let res = connect(v, v).get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new().get(app.url("/healthz").replace("https://", "http://")).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_only_redirects_to_https() {
    let app = TestApp::spawn_with(|s| s.redirect_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = app.running.as_ref().unwrap().redirect_addr.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(format!("http://{addr}/overview?x=1")).header("host", "evil.example").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    let loc = res.headers().get("location").unwrap().to_str().unwrap();
    // The target is the configured public URL, never the Host the client sent.
    assert_eq!(loc, format!("{}/overview?x=1", server::startup::config::Settings::default().public_url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_and_recovers_by_itself() {
    let app = TestApp::spawn_with(|s| {
        s.database_max_connections = Some(2);
        s.database_acquire_timeout_ms = 300;
    })
    .await;
    let (client, _) = app.signed_in("Outage").await;
    // Hold every connection: the database is, for the server, unavailable.
    let held = vec![app.state.pool.acquire().await.unwrap(), app.state.pool.acquire().await.unwrap()];
    let page = app.get(&client, "/overview").await;
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.headers().get("retry-after").is_some());
    assert!(page.text().await.unwrap().contains("temporarily unavailable"));
    let api = app.call(&client, "get_me", &[]).await;
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    drop(held);
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_runs_on_the_database_it_was_asked_for() {
    let app = TestApp::spawn().await;
    let conn = app.state.pool.acquire().await.unwrap();
    let expected = if common::backend_name() == "postgres" { "PostgreSQL" } else { "SQLite" };
    assert_eq!(conn.backend_name(), expected);
}

async fn last_sign_in_ip(app: &TestApp) -> String {
    use sqlx::Row as _;
    sqlx::query("SELECT ip FROM audit_events WHERE action = 'sign_in' ORDER BY created_at DESC, id DESC")
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_hsts_stays_and_only_trusted_proxies_are_believed() {
    let app = TestApp::spawn_with(|s| {
        s.behind_proxy = true;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let client = app.client();
    let res = client.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_security_headers(&res, "behind proxy");
    client
        .post(app.url("/api/sign_in"))
        .header("x-forwarded-for", "203.0.113.66, 198.51.100.23")
        .form(&[("email", "who@proxy.example"), ("password", "whatever-it-is")])
        .send()
        .await
        .unwrap();
    assert_eq!(last_sign_in_ip(&app).await, "198.51.100.23");

    // Without trusted proxies the header is the client's word, and ignored.
    let direct = TestApp::spawn().await;
    direct
        .client()
        .post(direct.url("/api/sign_in"))
        .header("x-forwarded-for", "198.51.100.23")
        .form(&[("email", "who@proxy.example"), ("password", "whatever-it-is")])
        .send()
        .await
        .unwrap();
    assert_eq!(last_sign_in_ip(&direct).await, "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_malformed_argument_is_a_clear_422_not_a_500() {
    let app = TestApp::spawn().await;
    let res = app.call(&app.client(), "sign_in", &[("email", "someone@example.com")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("The form was incomplete or malformed."));
}

/// Finding 14 of the attack review: a body that is not UTF-8, not JSON or not the expected shape gets a 4xx
/// with a clear message, on server functions (signed out and signed in) and on the REST API, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_a_clear_4xx() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Garbled").await;
    let (_, master) = common::keys::create_key(&app, &owner, "master", &[]).await;
    let raw = |client: &reqwest::Client, endpoint: &str, body: &'static [u8]| {
        client
            .post(app.url(&format!("/api/{endpoint}")))
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let anonymous = app.client();
    for (client, endpoint) in
        [(&anonymous, "sign_in"), (&anonymous, "request_password_reset"), (&owner, "step_up"), (&owner, "create_key")]
    {
        for body in [&b"email=\xff\xfe&password=x"[..], b"\xff", b"%ZZ=%", b"kind[=x"] {
            let res = raw(client, endpoint, body).await.unwrap();
            let status = res.status();
            let text = res.text().await.unwrap();
            assert!(status.is_client_error(), "{endpoint} {body:?}: {status} {text}");
            assert!(!text.contains("Internal"), "{endpoint} {body:?}: {text}");
        }
    }
    for body in [&b"\xff\xfe"[..], b"{", b"[]", b"{\"kind\": 7}", b"null"] {
        let res = common::keys::api_client(&app)
            .post(app.url("/api/v1/keys"))
            .bearer_auth(&master)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "REST {body:?}: {}", res.status());
    }
}

/// `/readyz` asks the database; `/healthz` only says the process answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_and_liveness_does_not() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "ready\nlast backup: none\n");
    app.state.pool.close().await;
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(client.get(app.url("/healthz")).send().await.unwrap().status(), StatusCode::OK);
}

/// Every answer — page, server function, REST, static, error — carries its own request id, minted by the
/// server (a client's `X-Request-Id` is not taken over).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_its_own_request_id() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut seen = std::collections::BTreeSet::new();
    for path in ["/healthz", "/sign-in", "/api/v1/members", "/no-such-page", "/favicon.svg", "/readyz"] {
        for _ in 0..2 {
            let res = client.get(app.url(path)).header("x-request-id", "chosen-by-client").send().await.unwrap();
            let id = res.headers().get("x-request-id").unwrap_or_else(|| panic!("{path}: no id")).to_str().unwrap();
            assert!(id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{path}: {id}");
            assert!(seen.insert(id.to_owned()), "{path}: {id} was used before");
        }
    }
    let res = app.call(&client, "get_me", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("x-request-id"));
}
