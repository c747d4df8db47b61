//! The REST half of the tenancy matrix: every route of the OpenAPI document, against the policy table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{vault_of, CANARY};
use crate::common::{self, TestApp};
use app::model::MembersView;
use reqwest::StatusCode;
use std::collections::BTreeSet;

/// Every REST route of the OpenAPI document has a row in `app::policy::REST_ROUTES` (and every row a route),
/// and every route refuses who the table says: anonymous, a revoked key, a frozen key (401); a read key on a
/// master or write route, a key whose maker lost the grant (403); another tenant's master key on A's records
/// (404, nothing of A in any answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_route_is_in_the_policy_table_and_enforces_it() {
    use app::policy::{KeyNeeds, REST_ROUTES};
    use common::keys::{api_client, create_key};
    let app = TestApp::spawn().await;
    let doc: serde_json::Value =
        api_client(&app).get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let listed: BTreeSet<(String, String)> =
        REST_ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    assert_eq!(documented, listed, "every documented route needs a row in app::policy::REST_ROUTES, and back");

    let (a_owner, _) = app.signed_in("Acme").await;
    let vault = vault_of(&app, &a_owner).await;
    let (read_id, read) = create_key(&app, &a_owner, "read", &[]).await;
    let (revoked_id, revoked) = create_key(&app, &a_owner, "write", &[]).await;
    let res = app.call(&a_owner, "revoke_key", &[("key_id", revoked_id.as_str())]).await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = app.call(&a_owner, "start_data_export", &[]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let exports: app::model::DataExportsView = app.call(&a_owner, "get_data_exports", &[]).await.json().await.unwrap();
    let export = exports.exports[0].id.clone();
    // An admin's write key, frozen by the admin's demotion; a member's vault key, whose maker loses the grant.
    common::add_member(&app, "Acme", "admin@acme.example", "admin").await;
    let (admin, _) = app.password_step("admin@acme.example").await;
    let (_, frozen) = create_key(&app, &admin, "write", &[]).await;
    common::add_member(&app, "Acme", "dev@acme.example", "member").await;
    common::set_grants(&app, "dev@acme.example", "api_keys,vault_read").await;
    let (dev, _) = app.password_step("dev@acme.example").await;
    let (_, demoted) = create_key(&app, &dev, "restricted", &[("scope_vault", "read")]).await;
    let get = |key: String, path: &'static str| {
        let app = &app;
        async move { api_client(app).get(app.url(path)).bearer_auth(key).send().await.unwrap().status() }
    };
    assert_eq!(get(frozen.clone(), "/api/v1/vault/files").await, StatusCode::OK, "before the demotion");
    assert_eq!(get(demoted.clone(), "/api/v1/vault/files").await, StatusCode::OK, "before the grant goes");
    let members: MembersView = app.call(&a_owner, "list_members", &[]).await.json().await.unwrap();
    let admin_id = members.members.iter().find(|m| m.email == "admin@acme.example").unwrap().membership_id.clone();
    app.call(&a_owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.call(&a_owner, "update_member", &[("membership_id", admin_id.as_str()), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    common::set_grants(&app, "dev@acme.example", "api_keys").await;
    app.clock.advance_ms(app::backend::keys::verify::CACHE_TTL_MS + 1);
    let (b_owner, _) = app.signed_in("Bravo").await;
    let (_, b_master) = create_key(&app, &b_owner, "master", &[]).await;

    for route in REST_ROUTES {
        let id = if route.path.starts_with("/api/v1/keys") {
            read_id.as_str()
        } else if route.path.starts_with("/api/v1/exports") {
            export.as_str()
        } else {
            vault.file.as_str()
        };
        let mut path = route.path.replace("{id}", id).replace("{version_id}", &vault.old_version);
        if route.method == "PUT" {
            path.push_str("?path=matrix.txt");
        }
        let call = |key: Option<&str>| {
            let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
            let mut req = api_client(&app).request(method, app.url(&path));
            if let Some(key) = key {
                req = req.bearer_auth(key);
            }
            req = match (route.method, route.path) {
                ("PUT", _) => req.body("matrix"),
                ("POST", "/api/v1/keys") => req.json(&serde_json::json!({"kind": "read", "description": "m"})),
                ("POST", "/api/v1/keys/{id}/roll") => req.json(&serde_json::json!({"grace_seconds": 0})),
                ("POST", "/api/v1/vault/files/{id}/links") => req.json(&serde_json::json!({})),
                _ => req,
            };
            req.send()
        };
        let what = format!("{} {}", route.method, route.path);
        assert_eq!(call(None).await.unwrap().status(), StatusCode::UNAUTHORIZED, "{what}: anonymous");
        if matches!(route.key, KeyNeeds::EnrolmentToken | KeyNeeds::MachineCertificate) {
            // No API key opens these (`machines.rs` tests their own credentials): every key is refused, 401, or
            // 429 once this address has sent too many unrecognised credentials this minute.
            for key in [read.as_str(), b_master.as_str(), revoked.as_str()] {
                let status = call(Some(key)).await.unwrap().status().as_u16();
                assert!(matches!(status, 401 | 429), "{what}: a key got {status}");
            }
            continue;
        }
        assert_eq!(call(Some(&revoked)).await.unwrap().status(), StatusCode::UNAUTHORIZED, "{what}: revoked");
        assert_eq!(call(Some(&frozen)).await.unwrap().status(), StatusCode::UNAUTHORIZED, "{what}: frozen");
        assert_eq!(call(Some(&demoted)).await.unwrap().status(), StatusCode::FORBIDDEN, "{what}: demoted maker");
        let needs_more = matches!(route.key, KeyNeeds::Master | KeyNeeds::Scope(_, app::model::Access::Write));
        let status = call(Some(&read)).await.unwrap().status();
        if needs_more {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}: a read key");
        } else {
            assert!(status.is_success(), "{what}: a read key got {status}");
        }
        let res = call(Some(&b_master)).await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(!body.contains(CANARY), "{what}: another tenant's key sees A's canary");
        if route.path.contains("{id}") {
            assert_eq!(status, StatusCode::NOT_FOUND, "{what}: another tenant's key on A's record");
        } else {
            assert!(status.is_success() || status == StatusCode::CONFLICT, "{what}: B on its own: {status} {body}");
        }
    }
    // A method the table does not list on a path it does: 405, with the methods it does list.
    let paths: BTreeSet<&str> = REST_ROUTES.iter().map(|r| r.path).collect();
    for path in paths {
        let url = app.url(&path.replace("{id}", "x").replace("{version_id}", "y"));
        let res = api_client(&app).request(reqwest::Method::PATCH, url).bearer_auth(&read).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "PATCH {path}");
        let allow = res.headers()["allow"].to_str().unwrap().to_owned();
        let want: Vec<&str> = REST_ROUTES.iter().filter(|r| r.path == path).map(|r| r.method).collect();
        assert_eq!(allow, want.join(", "), "{path}");
    }
    // Nothing B did reached A: the file, its versions and the read key are as they were.
    let res = app.call(&a_owner, "get_vault_file", &[("file_id", vault.file.as_str())]).await;
    let detail: app::model::VaultFileDetailView = res.json().await.unwrap();
    assert!(detail.file.deleted_at.is_none() && detail.versions.len() == 2);
    assert_eq!(get(read.clone(), "/api/v1/members").await, StatusCode::OK);
}
