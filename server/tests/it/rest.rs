//! The REST API: keys never mint more than they hold, keys and cookies stay apart, errors are JSON with
//! limits, the OpenAPI document describes it, and no answered request is lost from the access history —
//! on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::keys::{api_client, api_get, create_key};
use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_mint_more_than_they_hold() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Minting").await;
    // A read key cannot manage keys at all.
    let (_, read) = create_key(&app, &owner, "read", &[]).await;
    assert_eq!(api_get(&app, &read, "/api/v1/keys").await.status(), StatusCode::FORBIDDEN);

    // A master key restricted to localhost, 100 requests an hour.
    let (_, master) =
        create_key(&app, &owner, "master", &[("allowed_ips", "127.0.0.1"), ("rate_per_hour", "100")]).await;
    let (canary_id, _) = create_key(&app, &owner, "canary", &[]).await;
    let post =
        |body: Value| api_client(&app).post(app.url("/api/v1/keys")).bearer_auth(master.clone()).json(&body).send();
    let ok = json!({"kind": "read", "description": "ci", "allowed_ips": ["127.0.0.1"], "rate_per_hour": 50});
    for (body, status) in [
        (json!({"kind": "master", "description": "x", "allowed_ips": ["127.0.0.1"], "rate_per_hour": 5}), 422),
        (json!({"kind": "canary", "description": "x", "allowed_ips": ["127.0.0.1"], "rate_per_hour": 5}), 422),
        (json!({"kind": "read", "description": "no ip list", "rate_per_hour": 5}), 422),
        (json!({"kind": "read", "description": "wider", "allowed_ips": ["127.0.0.0/8"], "rate_per_hour": 5}), 422),
        (json!({"kind": "read", "description": "no limit", "allowed_ips": ["127.0.0.1"]}), 422),
        (json!({"kind": "read", "description": "faster", "allowed_ips": ["127.0.0.1"], "rate_per_hour": 101}), 422),
        (
            json!({"kind": "read", "description": "x", "allowed_ips": ["127.0.0.1"], "rate_per_hour": 5, "admin": true}),
            422,
        ),
    ] {
        let res = post(body.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{body}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["message"].is_string(), "{err}");
    }
    let res = post(ok).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let child = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(api_get(&app, &child, "/api/v1/members").await.status(), StatusCode::OK);
    // The child cannot outlive its maker either.
    let res = post(json!({"kind": "read", "description": "x", "allowed_ips": ["127.0.0.1"], "rate_per_hour": 5,
                          "expires_in_days": 366}))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The list never shows canaries to a key; a key cannot touch one.
    let list: Value = api_get(&app, &master, "/api/v1/keys").await.json().await.unwrap();
    let ids: Vec<&str> = list["keys"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&canary_id.as_str()) && ids.len() == 3, "{ids:?}");
    let res = api_client(&app).delete(app.url(&format!("/api/v1/keys/{canary_id}"))).bearer_auth(&master).send().await;
    assert_eq!(res.unwrap().status(), StatusCode::NOT_FOUND);

    // Roll and revoke over the API.
    let child_id = created["key"]["id"].as_str().unwrap();
    let res = api_client(&app)
        .post(app.url(&format!("/api/v1/keys/{child_id}/roll")))
        .bearer_auth(&master)
        .json(&json!({"grace_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let rolled: Value = res.json().await.unwrap();
    assert_eq!(api_get(&app, &child, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
    let new_child = rolled["secret"].as_str().unwrap();
    assert_eq!(api_get(&app, new_child, "/api/v1/members").await.status(), StatusCode::OK);
    let res = api_client(&app).delete(app.url(&format!("/api/v1/keys/{child_id}"))).bearer_auth(&master).send().await;
    assert_eq!(res.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(api_get(&app, new_child, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_open_no_page_and_cookies_open_no_api() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Apart").await;
    let (_, key) = create_key(&app, &owner, "master", &[]).await;
    let res = app.client().get(app.url("/overview")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a key opens no console page");
    let res = app.call(&app.client(), "get_keys", &[]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = owner.get(app.url("/api/v1/members")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a session cookie opens no API");
    for bad in
        ["", "Basic abc", "Bearer rmp_read_short", "Bearer rmp_read_0000000000000000000000000000000000000000000000"]
    {
        let res = app.client().get(app.url("/api/v1/members")).header("authorization", bad).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
    }
}

/// The member list is gzipped for a client that accepts it (as most HTTP libraries do by default): the same
/// JSON, as current as the plain one, and refused alike to a key without the scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_list_is_gzipped_for_a_client_that_accepts_it() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Squeezed").await;
    for i in 0..10 {
        common::add_member(&app, "Squeezed", &format!("member-{i}@squeezed.example"), "member").await;
    }
    let (_, key) = create_key(&app, &owner, "read", &[]).await;
    let get = |key: String, accept: &'static str| {
        let req = api_client(&app).get(app.url("/api/v1/members")).bearer_auth(key).header("accept-encoding", accept);
        async move {
            let res = req.send().await.unwrap();
            let (status, headers) = (res.status(), res.headers().clone());
            (status, headers, res.bytes().await.unwrap().to_vec())
        }
    };
    let (status, headers, plain) = get(key.clone(), "identity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("content-encoding").is_none());
    assert_eq!(headers["vary"], "accept-encoding");
    let (status, headers, gzipped) = get(key.clone(), "gzip, deflate").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(common::gunzip(&gzipped), plain, "the same JSON");
    assert!(gzipped.len() * 3 < plain.len(), "{} bytes for {}", gzipped.len(), plain.len());
    let (_, headers, _) = get(key.clone(), "gzip;q=0").await;
    assert!(headers.get("content-encoding").is_none(), "refused by weight");

    // A change shows in the gzipped list at once, as in the plain one.
    let list: Value = serde_json::from_slice(&plain).unwrap();
    let member = list["members"].as_array().unwrap().iter().find(|m| m["email"] == "member-3@squeezed.example");
    let id = member.unwrap()["id"].as_str().unwrap().to_owned();
    assert!(member.unwrap().get("deactivated_at").is_none());
    let res = app.call(&owner, "deactivate_member", &[("membership_id", id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let (_, _, gzipped) = get(key.clone(), "gzip").await;
    let list: Value = serde_json::from_slice(&common::gunzip(&gzipped)).unwrap();
    let member = list["members"].as_array().unwrap().iter().find(|m| m["id"] == id.as_str()).unwrap();
    assert!(member["deactivated_at"].is_i64(), "{member}");

    // A key without the members scope is refused whatever it accepts.
    let (_, vault_key) = create_key(&app, &owner, "restricted", &[("scope_vault", "read")]).await;
    let (status, headers, _) = get(vault_key, "gzip").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("content-encoding").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_are_json_with_limits_and_the_document_describes_it() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Shapes").await;
    let (_, key) = create_key(&app, &owner, "master", &[]).await;
    let res = api_get(&app, &key, "/api/v1/nothing-here").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "not_found");
    let big = "x".repeat(64 * 1024 + 16);
    let res = api_client(&app)
        .post(app.url("/api/v1/keys"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(format!("{{\"description\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "validation");
    let res = api_client(&app).post(app.url("/api/v1/keys")).bearer_auth(&key).body("kind=read").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = api_get(&app, &key, "/api/v1/access-history?limit=0").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = api_get(&app, &key, "/api/v1/access-history?colour=red").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Only the document's own path is open without a key: an id that merely ends like it meets the key check
    // (it reached the handlers keyless, which answered 500 for want of the key).
    for (method, path) in [
        ("GET", "/api/v1/vault/files/openapi.json"),
        ("DELETE", "/api/v1/vault/files/openapi.json"),
        ("DELETE", "/api/v1/keys/openapi.json"),
        ("GET", "/api/v1/exports/openapi.json"),
    ] {
        let res = api_client(&app).request(method.parse().unwrap(), app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"]["code"], "unauthenticated", "{method} {path}");
    }
    let res = api_client(&app).get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the document itself needs no key");

    // Cursor pagination walks the whole history without repeats.
    for _ in 0..5 {
        api_get(&app, &key, "/api/v1/members").await;
    }
    app.state.api_log.flush().await;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id IS NOT NULL")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = String::new();
    loop {
        let page: Value =
            api_get(&app, &key, &format!("/api/v1/access-history?limit=2{cursor}")).await.json().await.unwrap();
        for e in page["events"].as_array().unwrap() {
            assert!(seen.insert(e["id"].as_str().unwrap().to_owned()), "repeated {e}");
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    // Events of the paging requests themselves are newer than the first page: the walk sees exactly the rest.
    assert_eq!(seen.len() as i64, total);
    assert!(total >= 8, "{total}");
    let filtered: Value = api_get(&app, &key, "/api/v1/access-history?action=key.create").await.json().await.unwrap();
    assert!(filtered["events"].as_array().unwrap().iter().all(|e| e["action"] == "key.create"));

    let doc: Value = app.client().get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for path in ["/api/v1/members", "/api/v1/access-history", "/api/v1/keys", "/api/v1/keys/{id}/roll"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    let reference: app::model::ApiReferenceView =
        app.call(&owner, "get_api_reference", &[]).await.json().await.unwrap();
    assert!(reference.operations.iter().any(|o| o.method == "POST" && o.path == "/api/v1/keys"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_wait_on_the_history_and_a_clean_stop_loses_none() {
    let mut app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Stopping").await;
    let (id, key) = create_key(&app, &owner, "read", &[]).await;
    // Block every write to the access history, as a stalled disk would.
    let mut blocker = app.state.pool.acquire().await.unwrap();
    if common::backend_name() == "postgres" {
        sqlx::query("BEGIN").execute(&mut *blocker).await.unwrap();
        sqlx::query("LOCK TABLE audit_events IN EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
    } else {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *blocker).await.unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let client = api_client(&app);
        let url = app.url("/api/v1/members");
        let key = key.clone();
        tasks.push(tokio::spawn(async move { client.get(url).bearer_auth(key).send().await.unwrap().status() }));
    }
    // Every request is answered while nothing can be written.
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    // A clean stop begins while the writes are still blocked, and must wait for them.
    let running = app.running.take().unwrap();
    let stopping = tokio::spawn(running.stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "the stop waits for the history");
    sqlx::query("ROLLBACK").execute(&mut *blocker).await.unwrap();
    drop(blocker);
    stopping.await.unwrap();
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE key_id = $1 AND action = 'api.request'")
            .bind(&id)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(recorded, 100);
}

/// Finding 10 of the attack review: an anonymous client trying made-up keys is answered 429 past a per-address
/// limit and grows the access history by one row, plus one summary per minute — not one row per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_throttled_per_address_and_folded_in_the_history() {
    let app = TestApp::spawn().await;
    let unknown =
        app::backend::keys::format::compose("read", None, &"x".repeat(app::backend::keys::format::RANDOM_LEN));
    let mut statuses = Vec::new();
    for i in 0..30 {
        let key = if i % 2 == 0 { unknown.as_str() } else { "not-a-key" };
        statuses.push(api_get(&app, key, "/api/v1/members").await.status());
    }
    let limit = app::backend::keys::verify::UNKNOWN_PER_MINUTE as usize;
    assert!(statuses[..limit].iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert!(statuses[limit..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // No key at all has nothing to guess: still 401 past the limit (and folded like the others).
    let bare = api_client(&app).get(app.url("/api/v1/members")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    let rows = || async {
        app.state.api_log.flush().await;
        sqlx::query_scalar::<_, String>(
            "SELECT detail FROM audit_events WHERE actor = 'API key (not recognised)' ORDER BY seq",
        )
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
    };
    assert_eq!(rows().await.len(), 1, "one row for the first refusal of the minute");
    app.clock.advance_ms(60_000);
    server::rest::record_unknown_key_summaries(&app.state).await;
    let details = rows().await;
    assert_eq!(details.len(), 2, "{details:?}");
    assert!(details[1].contains("30 more") && details[1].contains("10 answered 429"), "{details:?}");
    // A new minute, a new budget.
    assert_eq!(api_get(&app, &unknown, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
}

/// The operator sets the per-address limit on unrecognised keys (`api_unknown_keys_per_minute`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unknown_key_limit_is_the_operators() {
    let app = TestApp::spawn_with(|s| s.api_unknown_keys_per_minute = 3).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(api_get(&app, "not-a-key", "/api/v1/members").await.status());
    }
    let want = [StatusCode::UNAUTHORIZED; 3].into_iter().chain([StatusCode::TOO_MANY_REQUESTS; 2]).collect::<Vec<_>>();
    assert_eq!(statuses, want);
}

/// The contract the OpenAPI document states, rule by rule (schemathesis checks them at random; these check each
/// one every run): a binned file is gone at its address, list entries are one each, dates are dates, an empty
/// period is an empty page, whole numbers may be written `272.0`, and an export still being prepared is a 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_contract_holds_rule_by_rule() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Contract").await;
    let (_, master) = create_key(&app, &owner, "master", &[]).await;
    let file = common::vault::upload(&app, &master, "bin/me.txt", b"soon gone".to_vec()).await;
    let path = format!("/api/v1/vault/files/{}", file["id"].as_str().unwrap());
    let delete = api_client(&app).delete(app.url(&path)).bearer_auth(&master).send().await.unwrap();
    assert_eq!(delete.status(), StatusCode::OK);
    assert_eq!(api_get(&app, &master, &path).await.status(), StatusCode::NOT_FOUND, "DELETE means gone here");
    let binned = api_get(&app, &master, &format!("{path}?deleted=true")).await;
    assert_eq!(binned.status(), StatusCode::OK, "still in the bin");
    assert!(binned.json::<Value>().await.unwrap()["file"]["deleted_at"].is_i64());

    let create = |body: Value| api_client(&app).post(app.url("/api/v1/keys")).bearer_auth(&master).json(&body).send();
    let padded = json!({"kind": "read", "description": "x", "allowed_ips": ["192.0.2.1 192.0.2.2"]});
    assert_eq!(create(padded).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY, "one address an entry");
    let whole = json!({"kind": "read", "description": "x", "expires_in_days": 30.0, "rate_per_hour": 272.0});
    let res = create(whole).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "272.0 is a whole number");
    assert_eq!(res.json::<Value>().await.unwrap()["key"]["rate_per_hour"], 272);
    let fraction = json!({"kind": "read", "description": "x", "rate_per_hour": 272.5});
    assert_eq!(create(fraction).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);

    for bad in ["from=", "to=%202026-01-01", "from=2026-1-1", "from=%2B2026-01-01"] {
        let res = api_get(&app, &master, &format!("/api/v1/vault/files?{bad}")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    assert_eq!(api_get(&app, &master, "/api/v1/vault/files?from=0001-01-01").await.status(), StatusCode::OK);
    let empty: Value =
        api_get(&app, &master, "/api/v1/access-history?since=2000&until=1000").await.json().await.unwrap();
    assert_eq!(empty, json!({"events": [], "next_cursor": null}), "a period that ends before it starts");
    assert_eq!(
        api_get(&app, &master, "/api/v1/access-history?until=-1").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let started = api_client(&app).post(app.url("/api/v1/exports")).bearer_auth(&master).send().await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let export: Value = started.json().await.unwrap();
    let id = export["id"].as_str().unwrap();
    // Held in the queue, as a busy worker would leave it.
    sqlx::query("UPDATE data_exports SET state = 'queued' WHERE id = $1")
        .bind(id)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let early = api_get(&app, &master, &format!("/api/v1/exports/{id}/download")).await;
    assert_eq!(early.status(), StatusCode::CONFLICT, "not ready yet");
}

/// What a master key made goes with it: revoking it revokes the keys it minted, and during a roll's grace its
/// old secret (often replaced because it leaked) makes and rolls no key that would outlive it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_key_leaves_nothing_it_made_behind() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Leaked").await;
    let (master_id, master) = create_key(&app, &owner, "master", &[]).await;
    let mint = |secret: String| {
        let app = &app;
        async move {
            api_client(app)
                .post(app.url("/api/v1/keys"))
                .bearer_auth(secret)
                .json(&json!({"kind": "write", "description": "ci"}))
                .send()
                .await
                .unwrap()
        }
    };
    let res = mint(master.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let child = created["secret"].as_str().unwrap().to_owned();
    let child_id = created["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(api_get(&app, &child, "/api/v1/members").await.status(), StatusCode::OK);

    // Rolled with an hour's grace: the old secret still reads, but mints and rolls nothing; the new one does.
    let res = app.call(&owner, "roll_key", &[("key_id", &master_id), ("grace_seconds", "3600")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    let fresh: Option<app::model::FreshKeyView> = app.call(&owner, "take_fresh_key", &[]).await.json().await.unwrap();
    let new_master = fresh.unwrap().secret;
    assert_eq!(api_get(&app, &master, "/api/v1/keys").await.status(), StatusCode::OK, "the grace holds");
    assert_eq!(mint(master.clone()).await.status(), StatusCode::FORBIDDEN, "the old secret mints nothing");
    let roll = api_client(&app)
        .post(app.url(&format!("/api/v1/keys/{child_id}/roll")))
        .bearer_auth(&master)
        .json(&json!({"grace_seconds": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(roll.status(), StatusCode::FORBIDDEN, "nor takes another key's new secret");
    assert_eq!(api_get(&app, &child, "/api/v1/members").await.status(), StatusCode::OK, "the child was not rolled");
    let res = mint(new_master.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let second: Value = res.json().await.unwrap();
    let second = second["secret"].as_str().unwrap().to_owned();

    // Revoked: both keys it made stop at once, and the history says why.
    let res = app.call(&owner, "revoke_key", &[("key_id", &master_id)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    for secret in [&child, &second, &new_master] {
        assert_eq!(api_get(&app, secret, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
    }
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'key.revoke' AND detail LIKE '%with the key%that made it'",
    )
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(told, 2);
}
