//! Error reports for the operator: an internal error is recorded once per kind and place with its count,
//! the request's id, route, tenant and version, and nothing the client sent; 4xx answers are not errors; a
//! panic is a 500 with a report instead of a dropped connection; the operator reads them with `rampart errors`
//! and may get them by email once a day.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, create_key};
use crate::common::rampart;
use crate::common::TestApp;
use app::backend::platform::failure::{self, StoredReport};
use serde_json::Value;

async fn reports(app: &TestApp) -> Vec<StoredReport> {
    app.state.failures.flush().await;
    failure::list(&app.state.pool).await.unwrap()
}

/// Makes the vault's file list fail inside the database (its table is gone), as a bug or a bad migration would.
async fn break_the_vault_list(app: &TestApp) {
    sqlx::query("ALTER TABLE vault_objects RENAME TO vault_objects_gone").execute(&app.state.pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_is_reported_once_with_its_count_and_nothing_the_client_sent() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let (_, secret) = create_key(&app, &owner, "read", &[]).await;
    let tenant_id: String =
        sqlx::query_scalar("SELECT id FROM tenants WHERE name = 'Acme'").fetch_one(&app.state.pool).await.unwrap();

    // What the client sends that must never reach a report: its key, and a query value.
    let path = "/api/v1/vault/files?folder=%2Fsecret-folder-name";
    assert_eq!(api_get(&app, &secret, path).await.status(), 200);
    assert!(reports(&app).await.is_empty(), "a working request reports nothing");

    break_the_vault_list(&app).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = api_get(&app, &secret, path).await;
        assert_eq!(res.status(), 500);
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(body["error"]["message"].as_str().unwrap().contains(&id), "the reference is the request id: {body}");
        ids.push(id);
    }

    let all = reports(&app).await;
    assert_eq!(all.len(), 1, "one report for one kind of failure at one place: {all:?}");
    let r = &all[0];
    assert_eq!(r.occurrences, 2);
    assert_eq!(r.kind, "database");
    assert_eq!(r.status, 500);
    assert_eq!(r.request_id, ids[1], "the latest occurrence's request");
    assert_eq!(r.route, "/api/v1/vault/files");
    assert_eq!(r.tenant_id.as_deref(), Some(tenant_id.as_str()));
    assert_eq!(r.version, env!("CARGO_PKG_VERSION"));
    assert!(r.location.contains("backend/vault/"), "the place of the failing query, not the error mapping: {r:?}");
    assert!(r.chain.contains("vault_objects"), "the database's own message: {}", r.chain);
    let stored = format!("{r:?}");
    for secret_part in [secret.as_str(), &secret[secret.len() - 12..], "secret-folder-name"] {
        assert!(!stored.contains(secret_part), "{secret_part} reached a report");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_bad_input_are_not_errors() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let (_, secret) = create_key(&app, &owner, "read", &[]).await;
    let client = app.client();
    assert_eq!(client.get(app.url("/api/v1/members")).send().await.unwrap().status(), 401);
    assert_eq!(app.get(&client, "/overview").await.status(), 303, "signed out: to the sign-in page");
    assert_eq!(api_get(&app, "rmp_read_not-a-key", "/api/v1/members").await.status(), 401);
    assert_eq!(api_get(&app, &secret, "/api/v1/keys").await.status(), 403);
    assert_eq!(api_get(&app, &secret, "/api/v1/vault/files/nope").await.status(), 404);
    assert_eq!(api_get(&app, &secret, "/api/v1/access-history?from=yesterday").await.status(), 422);
    assert_eq!(app.get(&owner, "/no-such-page").await.status(), 404);
    // A NUL character, which PostgreSQL's text cannot hold (SQLite's can): refused, never a 500.
    let nul = app.call(&client, "sign_in", &[("email", "a\u{0}@acme.example"), ("password", "whatever-it-is-1")]).await;
    assert!(nul.status().is_client_error(), "{}", nul.status());
    assert!(reports(&app).await.is_empty());
}

async fn boom() -> &'static str {
    panic!("the invariant broke")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_answered_500_and_reported_with_its_place() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;
    let app = TestApp::spawn().await;
    let router =
        axum::Router::new().route("/boom", axum::routing::get(boom)).layer(axum::middleware::from_fn_with_state(
            server::middleware::front::Front::new(app.state.clone(), Default::default()),
            server::middleware::front::front,
        ));
    let res = router.oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), 500);
    // The answer to a panic carries the request's id and the security headers, like any other.
    let id = res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(id.len(), 12, "{:?}", res.headers());
    assert_eq!(res.headers().get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]));
    let all = reports(&app).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, "panic");
    assert_eq!(all[0].chain, "the invariant broke");
    assert!(all[0].location.contains("tests/it/errors.rs"), "{:?}", all[0].location);
    assert_eq!(all[0].route, "/boom");
    assert_eq!(all[0].request_id, id, "the report names the id the answer carried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_lists_and_reads_reports_and_gets_them_by_email_once_a_day() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let (_, secret) = create_key(&app, &owner, "read", &[]).await;
    break_the_vault_list(&app).await;
    for _ in 0..3 {
        assert_eq!(api_get(&app, &secret, "/api/v1/vault/files").await.status(), 500);
    }
    let r = reports(&app).await.remove(0);

    let dir = tempfile::tempdir().unwrap();
    let out = rampart(dir.path(), &app.settings.database_url).args(["errors", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.starts_with(&r.fingerprint) && list.contains("×3") && list.contains("database"), "{list}");
    let out =
        rampart(dir.path(), &app.settings.database_url).args(["errors", "show", &r.fingerprint[..6]]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    for field in [r.request_id.as_str(), &r.location, &r.chain, "/api/v1/vault/files", "occurrences: 3"] {
        assert!(shown.contains(field), "{field} missing from:\n{shown}");
    }
    let out = rampart(dir.path(), &app.settings.database_url).args(["errors", "show", "zzzz"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown id is a usage error");

    // The daily email: what is new, then nothing until a day has passed, then only what was seen again.
    let to = "ops@operator.example";
    assert_eq!(server::jobs::error_digest::run_once(&app.state, to).await.unwrap(), 1);
    let mail = app.wait_for_mail(to, &r.fingerprint).await;
    assert!(mail.contains("1 error report(s), 3 occurrence(s)"), "{mail}");
    assert!(!mail.contains(&secret), "no key in the email");
    assert_eq!(api_get(&app, &secret, "/api/v1/vault/files").await.status(), 500);
    app.state.failures.flush().await;
    assert_eq!(server::jobs::error_digest::run_once(&app.state, to).await.unwrap(), 0, "once a day at most");
    app.clock.advance_ms(25 * 3600 * 1000);
    assert_eq!(server::jobs::error_digest::run_once(&app.state, to).await.unwrap(), 1, "seen again since");
    assert_eq!(server::jobs::error_digest::run_once(&app.state, to).await.unwrap(), 0);
}
