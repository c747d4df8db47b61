//! Closing an organisation ("erase us"): the owner asks (step-up, the name typed), everyone is emailed, for 14
//! days nothing but the closure page and its cancel works (pages, server functions and API keys alike), then
//! the job deletes every row of the tenant — on SQLite or PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, create_key};
use crate::common::scan::find_everywhere;
use crate::common::{add_member, TestApp, PASSWORD};
use app::backend::organisation::closure::delete::close_due;
use app::backend::platform::clock::DAY_MS;
use reqwest::StatusCode;

fn done(res: &reqwest::Response) -> bool {
    res.status().is_success() || res.status().is_redirection()
}

async fn count(app: &TestApp, sql: &str, arg: &str) -> i64 {
    sqlx::query_scalar(sql).bind(arg).fetch_one(&app.state.pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closing_organisation_is_frozen_can_be_cancelled_and_is_deleted_after_14_days() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Closing Co").await;
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE name = 'Closing Co'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    add_member(&app, "Closing Co", "admin@closing.example", "admin").await;
    add_member(&app, "Closing Co", "shared@closing.example", "member").await;
    sqlx::query("UPDATE tenants SET security_contact = 'sec@closing.example' WHERE id = $1")
        .bind(&tenant)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let (_, key) = create_key(&app, &owner, "read", &[]).await;
    let (admin, _) = app.password_step("admin@closing.example").await;
    let (member, _) = app.password_step("shared@closing.example").await;
    // Another tenant, and an account both share.
    let (other_owner, _) = app.signed_in("Stays Co").await;
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, account_id, role, created_at) SELECT 'm-shared', t.id, a.id, \
         'member', 0 FROM tenants t, accounts a WHERE t.name = 'Stays Co' AND a.email = 'shared@closing.example'",
    )
    .execute(&app.state.pool)
    .await
    .unwrap();
    // Vault rows and a blob folder of the tenant.
    sqlx::query(
        "INSERT INTO vault_data_keys (tenant_id, version, wrapped, wrap_key_id, state, created_at) \
         VALUES ($1, 1, 'w', 'k', 'active', 0)",
    )
    .bind(&tenant)
    .execute(&app.state.pool)
    .await
    .unwrap();
    let mut w = app.state.vault.store.create(&tenant, "blob-1").await.unwrap();
    w.write(b"ciphertext".to_vec()).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(crate::common::vault::blob_count(&app, &tenant).await, 1);

    // Only an owner, stepped up, with the name typed.
    let confirm = [("confirm", "Closing Co")];
    app.call(&admin, "step_up", &[("password", PASSWORD)]).await;
    assert_eq!(app.call(&admin, "request_closure", &confirm).await.status(), StatusCode::FORBIDDEN);
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "request_closure", &confirm).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("StepUpRequired"));
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "request_closure", &[("confirm", "Closing")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::OK, "nothing happened yet");
    let res = app.post_html(&owner, "request_closure", &confirm, "/organisation/closure").await;
    assert!(res.status().is_redirection(), "works without JavaScript: {}", res.status());

    // Every member and the security contact are told.
    for to in [owner_email.as_str(), "admin@closing.example", "shared@closing.example", "sec@closing.example"] {
        app.wait_for_mail(to, "is closing on").await;
    }
    // Nothing works but the closure page and its cancel: pages, server functions, the API.
    for c in [&owner, &admin, &member] {
        for page in ["/overview", "/members", "/access-history", "/keys", "/security"] {
            let res = app.get(c, page).await;
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
            assert_eq!(res.headers()["location"], "/organisation/closure", "{page}");
        }
        let html = app.get(c, "/organisation/closure").await.text().await.unwrap();
        assert!(html.contains("is closing on"), "{html}");
        for f in ["list_members", "get_overview", "list_recent_events", "get_keys", "step_up"] {
            let res = app.call(c, f, &[("password", PASSWORD)]).await;
            assert_eq!(res.status(), StatusCode::CONFLICT, "{f}");
            assert!(res.text().await.unwrap().contains("is closing on"), "{f}");
        }
    }
    let export = app.get(&owner, "/access-history/export?format=csv").await;
    assert_eq!(export.status(), StatusCode::SEE_OTHER);
    let res = api_get(&app, &key, "/api/v1/members").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert!(body["error"]["message"].as_str().unwrap().contains("closing on"), "{body}");
    assert_eq!(app.get(&other_owner, "/overview").await.status(), StatusCode::OK, "other tenants carry on");
    // The job deletes nothing before the 14 days are over.
    app.clock.advance_ms(13 * DAY_MS);
    assert!(close_due(&app.state).await.unwrap().is_empty());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tenants WHERE id = $1", &tenant).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM vault_data_keys WHERE tenant_id = $1", &tenant).await, 1);

    // A member cannot cancel; an owner can, and everyone is told. Everything works again.
    let (owner, _) = app.password_step(&owner_email).await;
    let (member, _) = app.password_step("shared@closing.example").await;
    assert_eq!(app.call(&member, "cancel_closure", &[]).await.status(), StatusCode::FORBIDDEN);
    assert!(done(&app.call(&owner, "cancel_closure", &[]).await));
    app.wait_for_mail("admin@closing.example", "closure was cancelled").await;
    app.wait_for_mail("sec@closing.example", "closure was cancelled").await;
    assert_eq!(app.get(&member, "/overview").await.status(), StatusCode::OK);
    assert_eq!(app.call(&owner, "list_members", &[]).await.status(), StatusCode::OK);
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::OK);
    let actions: i64 = count(
        &app,
        "SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND action IN ('tenant.closure_request', \
         'tenant.closure_cancel')",
        &tenant,
    )
    .await;
    assert_eq!(actions, 2);

    // Asked again: 14 days later the job deletes the tenant entirely.
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    assert!(done(&app.call(&owner, "request_closure", &confirm).await));
    app.clock.advance_ms(14 * DAY_MS - 60_000);
    assert!(close_due(&app.state).await.unwrap().is_empty());
    app.clock.advance_ms(2 * 60_000);
    let closed = close_due(&app.state).await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].accounts_deleted, 2, "the owner's and the admin's accounts; the shared one stays");
    let hits = find_everywhere(&app.state.pool, &tenant).await;
    assert_eq!(hits, vec![("audit_events".to_owned(), "detail".to_owned(), 1)], "only the closure record names it");
    let (actor, chain): (String, Option<String>) =
        sqlx::query_as("SELECT actor, tenant_id FROM audit_events WHERE action = 'tenant.closed'")
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!((actor.as_str(), chain), ("rampart", None));
    assert!(find_everywhere(&app.state.pool, "Closing Co").await.is_empty(), "no name left");
    assert!(find_everywhere(&app.state.pool, &owner_email).await.is_empty());
    assert!(find_everywhere(&app.state.pool, "admin@closing.example").await.is_empty());
    assert_eq!(crate::common::vault::blob_count(&app, &tenant).await, 0, "the tenant's blobs are gone");
    assert!(!app.settings.data_dir.join("vault").join(&tenant).exists(), "no folder left either");
    // The shared account and the other tenant are untouched.
    let (shared, _) = app.password_step("shared@closing.example").await;
    assert_eq!(app.get(&shared, "/overview").await.status(), StatusCode::OK);
    let (other_owner, _) = app.password_step("owner@stays-co.example").await;
    assert_eq!(app.get(&other_owner, "/members").await.status(), StatusCode::OK);
    for chain in app::backend::audit::verify::list_chains(&app.state.pool).await.unwrap() {
        let r = app::backend::audit::verify::verify_chain(&app.state.pool, &app.state.keys, &app.state.anchors, &chain)
            .await
            .unwrap();
        assert!(r.ok, "{r:?}");
    }
}
