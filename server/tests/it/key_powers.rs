//! A key never holds more than its maker, per resource, when it is made, changed, rolled and at every
//! verification (findings 1, 3 and 12 of the attack review) — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::keys::{api_client, api_get, assert_refused, create_key, key_events};
use crate::common::vault::put;
use crate::common::{add_member, set_grants, TestApp, PASSWORD};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn member(app: &TestApp, tenant: &str, email: &str, role: &str, grants: &str) -> Client {
    add_member(app, tenant, email, role).await;
    set_grants(app, email, grants).await;
    let client = app.client();
    let res = app.call(&client, "sign_in", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    client
}

async fn membership_id(app: &TestApp, owner: &Client, email: &str) -> String {
    let members: app::model::MembersView = app.call(owner, "list_members", &[]).await.json().await.unwrap();
    members.members.into_iter().find(|m| m.email == email).unwrap().membership_id
}

/// Finding 1: *Vault (read)* does not make a key that writes the vault, by creation or by a later change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_read_cannot_mint_or_edit_a_key_into_vault_write() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Readers").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let file = common::vault::upload(&app, &write, "docs/a.txt", b"kept".to_vec()).await;
    let dev = member(&app, "Readers", "dev@readers.example", "member", "api_keys,vault_read").await;
    app.call(&dev, "step_up", &[("password", PASSWORD)]).await;
    let res =
        app.call(&dev, "create_key", &[("kind", "restricted"), ("description", "x"), ("scope_vault", "write")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text().await.unwrap());
    let (id, read) = create_key(&app, &dev, "restricted", &[("scope_vault", "read")]).await;
    let got = common::vault::content(&app, &read, file["id"].as_str().unwrap(), None).await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(put(&app, &read, "docs/b.txt", b"no".to_vec()).await.status(), StatusCode::FORBIDDEN);
    // Public links are an admin's act on the console: the member's key mints none either; an admin's does.
    let links = format!("/api/v1/vault/files/{}/links", file["id"].as_str().unwrap());
    let mint = |key: String| {
        let (app, links) = (&app, links.clone());
        async move {
            let res = crate::common::keys::api_client(app)
                .post(app.url(&links))
                .bearer_auth(key)
                .json(&serde_json::json!({"minutes": 60}))
                .send()
                .await
                .unwrap();
            res.status()
        }
    };
    assert_eq!(mint(read.clone()).await, StatusCode::FORBIDDEN, "a member's key mints no link");
    let (_, admins_read) = create_key(&app, &owner, "read", &[]).await;
    assert!(mint(admins_read).await.is_success(), "an admin's read key does");
    let res = app.call(&dev, "update_key", &[("key_id", &id), ("description", "x"), ("scope_vault", "write")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text().await.unwrap());
    assert_eq!(put(&app, &read, "docs/b.txt", b"no".to_vec()).await.status(), StatusCode::FORBIDDEN);
    // An admin editing the member's key cannot lift it past the member either.
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "update_key", &[("key_id", &id), ("description", "x"), ("scope_vault", "write")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", res.text().await.unwrap());
    // With *Vault (write)* the member may.
    set_grants(&app, "dev@readers.example", "api_keys,vault_read,vault_write").await;
    let (_, writer) = create_key(&app, &dev, "restricted", &[("scope_vault", "write")]).await;
    assert_eq!(put(&app, &writer, "docs/c.txt", b"ok".to_vec()).await.status(), StatusCode::CREATED);
}

/// Finding 3: a demoted admin's write and master keys stop at once, are frozen with an event and an email to
/// the owners, and cannot be rolled; a member's restricted key follows a grant taken away, even one changed
/// behind the console's back (as another instance would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_lose_what_their_maker_loses() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Demoted").await;
    let admin = member(&app, "Demoted", "admin@demoted.example", "admin", "").await;
    let (write_id, write) = create_key(&app, &admin, "write", &[]).await;
    let (master_id, master) = create_key(&app, &admin, "master", &[]).await;
    assert_eq!(put(&app, &write, "a.txt", b"1".to_vec()).await.status(), StatusCode::CREATED);
    assert_eq!(api_get(&app, &master, "/api/v1/keys").await.status(), StatusCode::OK);

    let id = membership_id(&app, &owner, "admin@demoted.example").await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app
        .call(&owner, "update_member", &[("membership_id", &id), ("role", "member"), ("grant_vault_read", "on")])
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_refused(&app, &write_id, put(&app, &write, "b.txt", b"2".to_vec()).await, "frozen").await;
    assert_refused(&app, &master_id, api_get(&app, &master, "/api/v1/keys").await, "frozen").await;
    let frozen = key_events(&app, &write_id).await;
    assert!(frozen.iter().any(|(a, _, _)| a == "key.freeze"), "{frozen:?}");
    app::backend::alerts::deliver_due(&app.state).await.unwrap();
    app.wait_for_mail(&owner_email, "frozen").await;
    // The demoted maker cannot get a fresh secret for it, and an unfreeze gives back nothing the maker lacks.
    let res = app.call(&admin, "roll_key", &[("key_id", &write_id), ("grace_seconds", "0")]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    sqlx::query("UPDATE api_keys SET frozen_at = NULL").execute(&app.state.pool).await.unwrap();
    app.state.key_guard.invalidate_all();
    assert_refused(&app, &write_id, put(&app, &write, "b.txt", b"2".to_vec()).await, "maker_lacks_access").await;

    // A member's restricted key follows the member's grants at every verification.
    let dev = member(&app, "Demoted", "dev@demoted.example", "member", "api_keys,vault_read,vault_write").await;
    let (_, restricted) = create_key(&app, &dev, "restricted", &[("scope_vault", "write")]).await;
    assert_eq!(put(&app, &restricted, "c.txt", b"3".to_vec()).await.status(), StatusCode::CREATED);
    set_grants(&app, "dev@demoted.example", "api_keys,vault_read").await;
    app.clock.advance_ms(app::backend::keys::verify::CACHE_TTL_MS + 1);
    assert_eq!(put(&app, &restricted, "d.txt", b"4".to_vec()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(api_get(&app, &restricted, "/api/v1/vault/files").await.status(), StatusCode::OK, "read stays");
}

/// Finding 12: the plainest documented call works with a fresh master key (the child's default expiry is
/// capped at its parent's remaining life), and a master key never mints past its maker's own access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_creates_a_key_with_the_default_expiry() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Defaults").await;
    let (_, master) = create_key(&app, &owner, "master", &[]).await;
    // Real time passes between making the master key and using it.
    app.clock.advance_ms(1_000);
    let res = api_client(&app)
        .post(app.url("/api/v1/keys"))
        .bearer_auth(&master)
        .json(&json!({"kind": "read", "description": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    let keys: Value = api_get(&app, &master, "/api/v1/keys").await.json().await.unwrap();
    let expiry =
        |id: &Value| keys["keys"].as_array().unwrap().iter().find(|k| &k["id"] == id).unwrap()["expires_at"].clone();
    let parent = keys["keys"].as_array().unwrap().iter().find(|k| k["kind"] == "master").unwrap()["id"].clone();
    assert!(expiry(&created["key"]["id"]).as_i64().unwrap() <= expiry(&parent).as_i64().unwrap());
    // Days are whole: the parent's own 365 days, asked for a second later, end with the parent.
    let ask = |days: i64| {
        api_client(&app)
            .post(app.url("/api/v1/keys"))
            .bearer_auth(&master)
            .json(&json!({"kind": "read", "description": "x", "expires_in_days": days}))
            .send()
    };
    let res = ask(365).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let same: Value = res.json().await.unwrap();
    assert_eq!(same["key"]["expires_at"], expiry(&parent), "clamped to the parent's expiry");
    // A life a day or more past the parent's is refused.
    app.clock.advance_ms(2 * 86_400_000);
    let res = ask(365).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = ask(363).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}
