//! Tenant network rules: the IP block list refuses on the console (pages and server functions) and on the REST
//! API with the reason recorded, ends when its time is up, and never blocks its author; the console allow list
//! refuses to be saved without the admin's own address, then admits only its networks to the console (not to
//! the API) — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::keys::{api_client, create_key, key_events};
use crate::common::{add_member, TestApp, PASSWORD};
use app::backend::platform::clock::DAY_MS;
use app::model::IpRulesView;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::Row as _;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await
}

/// A console page, as a browser at `ip` (behind the trusted proxy) opens it.
async fn page_from(app: &TestApp, client: &Client, path: &str, ip: &str) -> Response {
    client.get(app.url(path)).header("accept", "text/html").header("x-forwarded-for", ip).send().await.unwrap()
}

/// A server function, as the hydrated app at `ip` calls it.
async fn call_from(app: &TestApp, client: &Client, endpoint: &str, ip: &str) -> Response {
    client
        .post(app.url(&format!("/api/{endpoint}")))
        .header("origin", &app.base)
        .header("x-forwarded-for", ip)
        .form(&[("x", "")])
        .send()
        .await
        .unwrap()
}

async fn api_from(app: &TestApp, key: &str, ip: &str) -> Response {
    api_client(app).get(app.url("/api/v1/members")).bearer_auth(key).header("x-forwarded-for", ip).send().await.unwrap()
}

async fn actions(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query("SELECT action, detail FROM audit_events ORDER BY created_at, id")
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_block_list_refuses_console_and_api_until_it_ends() {
    let app = spawn().await;
    let (owner, _) = app.signed_in("Blocky").await;
    let (_, key) = create_key(&app, &owner, "read", &[]).await;
    let key_id = {
        let keys: app::model::KeysView = app.call(&owner, "get_keys", &[]).await.json().await.unwrap();
        keys.keys[0].id.clone()
    };
    add_member(&app, "Blocky", "mallory@blocky.example", "admin").await;
    let mallory = app.client();
    let res = mallory
        .post(app.url("/api/sign_in"))
        .header("origin", &app.base)
        .header("x-forwarded-for", "203.0.113.5")
        .form(&[("email", "mallory@blocky.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(page_from(&app, &mallory, "/overview", "203.0.113.5").await.status(), StatusCode::OK);

    // Changes need a step-up (signing in counted as one, ten minutes ago), a reason, and may not block their
    // author.
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "add_ip_block", &[("cidr", "203.0.113.0/24"), ("reason", "credential stuffing")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a step-up first");
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "add_ip_block", &[("cidr", "203.0.113.0/24"), ("reason", "  ")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    let res = app.call(&owner, "add_ip_block", &[("cidr", "127.0.0.0/8"), ("reason", "oops")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "the admin's own address");
    assert!(res.text().await.unwrap().contains("lock yourself out"));
    let res = app.call(&owner, "add_ip_block", &[("cidr", "203.0.113.0/33"), ("reason", "x")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let rules: IpRulesView = app.call(&owner, "get_ip_rules", &[]).await.json().await.unwrap();
    assert!(rules.blocks.is_empty(), "nothing saved by refused changes");
    assert_eq!(rules.your_ip, "127.0.0.1");

    let res = app
        .call(
            &owner,
            "add_ip_block",
            &[("cidr", "203.0.113.0/24"), ("reason", "credential stuffing"), ("expires_in_days", "1")],
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let res = app.call(&owner, "add_ip_block", &[("cidr", "2001:db8::/32"), ("reason", "v6 scanner")]).await;
    assert!(res.status().is_success());

    let html = app.get(&owner, "/security/network").await.text().await.unwrap();
    assert!(html.contains("203.0.113.0/24") && html.contains("credential stuffing"), "the list, for admins");
    assert!(html.contains("aria-label=\"Remove the block on 2001:db8::/32\""));
    assert!(html.contains("Your address now: "));

    // The console refuses at once (this instance's cache was emptied): pages, server functions, IPv6 too.
    let res = page_from(&app, &mallory, "/overview", "203.0.113.5").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("blocked access from your network address (203.0.113.5)"), "{html}");
    assert!(!html.contains("credential stuffing"), "the admin's reason stays inside the organisation");
    let res = call_from(&app, &mallory, "get_overview", "203.0.113.5").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ip_refused");
    assert_eq!(page_from(&app, &mallory, "/overview", "2001:db8:7::1").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(page_from(&app, &mallory, "/overview", "198.51.100.7").await.status(), StatusCode::OK);

    // The API refuses the tenant's keys from there, and records why.
    let res = api_from(&app, &key, "203.0.113.77").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ip_refused");
    let events = key_events(&app, &key_id).await;
    assert!(events[0].2.contains("403 (ip_blocked: 203.0.113.77 is blocked: credential stuffing"), "{events:?}");
    assert_eq!(api_from(&app, &key, "198.51.100.7").await.status(), StatusCode::OK);

    // Another tenant is not affected by this one's rules.
    let (other, _) = app.signed_in("Elsewhere").await;
    assert_eq!(page_from(&app, &other, "/overview", "203.0.113.5").await.status(), StatusCode::OK);

    // Changes and refusals are in the access history (a refusal once a minute per address, not per request).
    let all = actions(&app).await;
    assert!(all.iter().any(|(a, d)| a == "ip_block.add" && d.contains("blocked 203.0.113.0/24 for 1 day(s)")));
    let refused: Vec<_> = all.iter().filter(|(a, _)| a == "ip_rules.refused").collect();
    assert_eq!(refused.len(), 2, "one per address within the minute: {refused:?}");

    // Signing in from there fails exactly like a wrong password (no password oracle), and the organisation
    // learns that someone there knows the password.
    let sign_in_from = |password: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client()
                .post(app.url("/api/sign_in"))
                .header("origin", &app.base)
                .header("x-forwarded-for", "203.0.113.5")
                .form(&[("email", "mallory@blocky.example"), ("password", password)])
                .send()
                .await
                .unwrap();
            let set_cookie = common::session_set_cookie(&res).is_some_and(|c| !c.contains("Max-Age=0"));
            (res.status(), res.text().await.unwrap(), set_cookie)
        }
    };
    let right = sign_in_from(PASSWORD).await;
    let wrong = sign_in_from("not-the-password-at-all").await;
    assert_eq!((right.0, &right.1), (wrong.0, &wrong.1), "same answer for a right and a wrong password");
    assert!(!right.2, "no session");
    assert!(actions(&app).await.iter().any(|(a, d)| a == "ip_rules.refused"
        && d == "sign-in refused after a correct password: 203.0.113.5 is blocked: credential stuffing"));

    // The block ends by the clock.
    app.clock.advance_ms(DAY_MS);
    assert_eq!(api_from(&app, &key, "203.0.113.77").await.status(), StatusCode::OK);
    let (mallory2, _) = app.password_step("mallory@blocky.example").await;
    assert_eq!(page_from(&app, &mallory2, "/overview", "203.0.113.5").await.status(), StatusCode::OK);
    let (owner, _) = {
        let c = app.client();
        let res = app.call(&c, "sign_in", &[("email", "owner@blocky.example"), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        (c, ())
    };
    let rules: IpRulesView = app.call(&owner, "get_ip_rules", &[]).await.json().await.unwrap();
    let ended = rules.blocks.iter().find(|b| b.cidr == "203.0.113.0/24").unwrap();
    assert!(!ended.active, "an ended block stays listed, inactive");

    // Removing a block lifts it.
    let v6 = rules.blocks.iter().find(|b| b.cidr == "2001:db8::/32").unwrap().id.clone();
    assert_eq!(page_from(&app, &mallory2, "/overview", "2001:db8::9").await.status(), StatusCode::FORBIDDEN);
    let res = app.call(&owner, "remove_ip_block", &[("block_id", &v6)]).await;
    assert!(res.status().is_success());
    assert_eq!(page_from(&app, &mallory2, "/overview", "2001:db8::9").await.status(), StatusCode::OK);
    assert!(actions(&app).await.iter().any(|(a, d)| a == "ip_block.remove" && d.contains("2001:db8::/32")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_allow_list_needs_the_admins_address_then_admits_only_its_networks() {
    let app = spawn().await;
    let (owner, _) = app.signed_in("Walled").await;
    let (_, key) = create_key(&app, &owner, "read", &[]).await;
    add_member(&app, "Walled", "eve@walled.example", "member").await;
    let (eve, _) = app.password_step("eve@walled.example").await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;

    // Without the admin's current address (127.0.0.1 here): refused, nothing saved.
    let res = app.call(&owner, "set_console_allow_list", &[("allowed_ips", "10.0.0.0/8")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("does not contain your current address (127.0.0.1)"));
    let rules: IpRulesView = app.call(&owner, "get_ip_rules", &[]).await.json().await.unwrap();
    assert!(rules.console_allowed_ips.is_empty());
    assert_eq!(page_from(&app, &eve, "/overview", "192.0.2.1").await.status(), StatusCode::OK);
    // A member cannot change it.
    let res = app.call(&eve, "set_console_allow_list", &[("allowed_ips", "")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app.call(&owner, "set_console_allow_list", &[("allowed_ips", "10.0.0.0/8\n127.0.0.1")]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let rules: IpRulesView = app.call(&owner, "get_ip_rules", &[]).await.json().await.unwrap();
    assert_eq!(rules.console_allowed_ips, vec!["10.0.0.0/8", "127.0.0.1/32"]);

    let res = page_from(&app, &eve, "/overview", "192.0.2.1").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("your address (192.0.2.1) is not one of them"));
    assert_eq!(call_from(&app, &eve, "get_overview", "192.0.2.1").await.status(), StatusCode::FORBIDDEN);
    let res = app
        .client()
        .post(app.url("/api/sign_in"))
        .header("origin", &app.base)
        .header("x-forwarded-for", "192.0.2.1")
        .form(&[("email", "eve@walled.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "no sign-in from outside: {}", res.status());
    assert!(res.text().await.unwrap().contains("The email or password is incorrect."));
    assert_eq!(page_from(&app, &eve, "/overview", "10.9.8.7").await.status(), StatusCode::OK);
    assert_eq!(app.get(&owner, "/overview").await.status(), StatusCode::OK);
    // The API is not the console: keys keep their own IP lists.
    assert_eq!(api_from(&app, &key, "192.0.2.1").await.status(), StatusCode::OK);
    // Another tenant's members are not held to it.
    let (other, _) = app.signed_in("Open").await;
    assert_eq!(page_from(&app, &other, "/overview", "192.0.2.1").await.status(), StatusCode::OK);
    assert!(actions(&app)
        .await
        .iter()
        .any(|(a, d)| a == "console_allow_list.update" && d.contains("anywhere → [10.0.0.0/8,127.0.0.1/32]")));

    // Emptied, the console is open again.
    let res = app.call(&owner, "set_console_allow_list", &[("allowed_ips", "")]).await;
    assert!(res.status().is_success());
    assert_eq!(page_from(&app, &eve, "/overview", "192.0.2.1").await.status(), StatusCode::OK);
}
