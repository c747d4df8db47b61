//! API keys from the console: secrets shown once, every guardrail refusing with its recorded reason, rolls that
//! keep the old secret for the grace only, revokes that bite at once, canaries that alert, rotation and
//! unused-key policy — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_client, api_get, assert_refused, create_key, key_events};
use crate::common::{add_member, TestApp, PASSWORD};
use app::backend::platform::clock::{DAY_MS, HOUR_MS};
use app::model::{FreshKeyView, KeyDetailView, KeysView};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_shown_once_works_and_is_never_stored() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Once").await;
    let (id, secret) = create_key(&app, &owner, "read", &[]).await;
    assert!(secret.starts_with("rmp_read_") && secret.len() >= 50, "{secret}");
    let again: Option<FreshKeyView> = app.call(&owner, "take_fresh_key", &[]).await.json().await.unwrap();
    assert!(again.is_none(), "a secret is shown exactly once");

    let res = api_get(&app, &secret, "/api/v1/members").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["members"][0]["email"], "owner@once.example");

    // No table holds the secret, or its random part.
    let random = &secret["rmp_read_".len()..];
    for (table, cols) in [
        ("api_keys", "id || description || digest || display_prefix"),
        ("audit_events", "actor || detail"),
        ("sessions", "data"),
    ] {
        let rows = sqlx::query(&format!("SELECT {cols} FROM {table}")).fetch_all(&app.state.pool).await.unwrap();
        for r in rows {
            let text: String = r.get(0);
            assert!(!text.contains(random), "{table} holds the secret");
        }
    }
    // The request is in the access history with key, method, path and status.
    let events = key_events(&app, &id).await;
    assert!(events
        .iter()
        .any(|(a, o, d)| a == "api.request" && o == "success" && d.contains("GET /api/v1/members → 200")));
    // And the key page shows its last use.
    let detail: KeyDetailView = app.call(&owner, "get_key", &[("key_id", &id)]).await.json().await.unwrap();
    assert_eq!(detail.key.last_used_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(detail.key.last_used_user_agent.as_deref(), Some("rampart-tests/1.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guardrail_refuses_and_records_why() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (owner, _) = app.signed_in("Guarded").await;

    // IPv4 allow list.
    let (id, key) = create_key(&app, &owner, "read", &[("allowed_ips", "10.0.0.0/8")]).await;
    assert_refused(&app, &id, api_get(&app, &key, "/api/v1/members").await, "ip_not_allowed").await;
    let from = |ip: &'static str| {
        let key = key.clone();
        let app = &app;
        async move {
            api_client(app)
                .get(app.url("/api/v1/members"))
                .bearer_auth(key)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(from("10.20.30.40").await.status(), StatusCode::OK);

    // IPv6 allow list.
    let (id6, key6) = create_key(&app, &owner, "read", &[("allowed_ips", "2001:db8::/32")]).await;
    let v6 = |ip: &'static str| {
        let key6 = key6.clone();
        let app = &app;
        async move {
            api_client(app)
                .get(app.url("/api/v1/members"))
                .bearer_auth(key6)
                .header("x-forwarded-for", ip)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(v6("2001:db8:1::7").await.status(), StatusCode::OK);
    assert_refused(&app, &id6, v6("2001:db9::1").await, "ip_not_allowed").await;

    // Referers.
    let (idr, keyr) = create_key(&app, &owner, "read", &[("allowed_referers", "https://shop.example.com/*")]).await;
    assert_refused(&app, &idr, api_get(&app, &keyr, "/api/v1/members").await, "referer_not_allowed").await;
    let with_referer = |r: &'static str| {
        api_client(&app).get(app.url("/api/v1/members")).bearer_auth(keyr.clone()).header("referer", r).send()
    };
    assert_eq!(with_referer("https://shop.example.com/cart").await.unwrap().status(), StatusCode::OK);
    assert_refused(&app, &idr, with_referer("https://evil.example.net/").await.unwrap(), "referer_not_allowed").await;
    // Referers are a browser guardrail for read keys only: a key that can write must use IP lists.
    for kind in ["write", "master"] {
        let res = app
            .call(
                &owner,
                "create_key",
                &[("kind", kind), ("description", "x"), ("allowed_referers", "shop.example.com")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{kind}");
    }

    // Scope: a restricted key with members:read only.
    let (ids, keys) = create_key(&app, &owner, "restricted", &[("scope_members", "read")]).await;
    assert_eq!(api_get(&app, &keys, "/api/v1/members").await.status(), StatusCode::OK);
    let res = api_get(&app, &keys, "/api/v1/access-history").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let events = key_events(&app, &ids).await;
    assert!(events[0].2.contains("403, scope"), "{events:?}");

    // Rate limit per client IP, then Retry-After honoured (the clock moves, nothing sleeps).
    let (idl, keyl) = create_key(&app, &owner, "read", &[("rate_per_hour", "2")]).await;
    for _ in 0..2 {
        assert_eq!(api_get(&app, &keyl, "/api/v1/members").await.status(), StatusCode::OK);
    }
    let limited = api_get(&app, &keyl, "/api/v1/members").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert!(key_events(&app, &idl).await[0].2.contains("rate_limited"));
    app.clock.advance_ms(retry * 1000);
    assert_eq!(api_get(&app, &keyl, "/api/v1/members").await.status(), StatusCode::OK);

    // A key for longer than the tenant allows is refused, and nothing is created.
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let before: KeysView = app.call(&owner, "get_keys", &[]).await.json().await.unwrap();
    let res =
        app.call(&owner, "create_key", &[("kind", "read"), ("description", "x"), ("expires_in_days", "400")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res =
        app.call(&owner, "create_key", &[("kind", "read"), ("description", "x"), ("allowed_ips", "10.0.0.0/33")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Every address is no restriction: an open key is one with no list, counted and filtered as open.
    for all in ["0.0.0.0/0", "10.0.0.0/8, ::/0"] {
        let res = app.call(&owner, "create_key", &[("kind", "read"), ("description", "x"), ("allowed_ips", all)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{all}");
        assert!(res.text().await.unwrap().contains("leave the list empty"), "{all}");
    }
    let after: KeysView = app.call(&owner, "get_keys", &[]).await.json().await.unwrap();
    assert_eq!(before.keys.len(), after.keys.len());
    // Expiry, by the clock.
    let (ide, keye) = create_key(&app, &owner, "read", &[("expires_in_days", "1")]).await;
    assert_eq!(api_get(&app, &keye, "/api/v1/members").await.status(), StatusCode::OK);
    app.clock.advance_ms(DAY_MS);
    assert_refused(&app, &ide, api_get(&app, &keye, "/api/v1/members").await, "expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_keeps_the_old_secret_for_the_grace_only_and_shows_its_use() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Rolling").await;
    let (id, old) = create_key(&app, &owner, "read", &[]).await;
    assert_eq!(api_get(&app, &old, "/api/v1/members").await.status(), StatusCode::OK);

    let res = app.call(&owner, "roll_key", &[("key_id", &id), ("grace_seconds", "3600")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let new: Option<FreshKeyView> = app.call(&owner, "take_fresh_key", &[]).await.json().await.unwrap();
    let new = new.unwrap().secret;
    assert_ne!(new, old);
    assert_eq!(api_get(&app, &old, "/api/v1/members").await.status(), StatusCode::OK);
    assert_eq!(api_get(&app, &new, "/api/v1/members").await.status(), StatusCode::OK);

    // The key page tells where the old secret is still used from.
    app.state.api_log.flush().await;
    let detail: KeyDetailView = app.call(&owner, "get_key", &[("key_id", &id)]).await.json().await.unwrap();
    assert!(detail.key.previous_ends_at.is_some());
    let old_use = &detail.previous_usage[0];
    assert_eq!((old_use.ip.as_str(), old_use.user_agent.as_str()), ("127.0.0.1", "rampart-tests/1.0"));
    assert_eq!(old_use.uses, 2, "{:?}", detail.previous_usage);
    assert_eq!(detail.current_usage[0].uses, 1);

    // After the grace only the new secret works.
    app.clock.advance_ms(HOUR_MS);
    let owner = app.client();
    app.call(&owner, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    assert_refused(&app, &id, api_get(&app, &old, "/api/v1/members").await, "expired").await;
    assert_eq!(api_get(&app, &new, "/api/v1/members").await.status(), StatusCode::OK);

    // Roll again with a day of grace, then end it early.
    app.call(&owner, "roll_key", &[("key_id", &id), ("grace_seconds", "86400")]).await;
    let newer: Option<FreshKeyView> = app.call(&owner, "take_fresh_key", &[]).await.json().await.unwrap();
    assert_eq!(api_get(&app, &new, "/api/v1/members").await.status(), StatusCode::OK);
    app.call(&owner, "end_key_grace", &[("key_id", &id)]).await;
    assert_eq!(api_get(&app, &new, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(api_get(&app, &newer.unwrap().secret, "/api/v1/members").await.status(), StatusCode::OK);
    // A grace beyond 30 days is refused.
    let res = app.call(&owner, "roll_key", &[("key_id", &id), ("grace_seconds", "2592001")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_keys_are_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Revoking").await;
    let (id, key) = create_key(&app, &owner, "read", &[]).await;
    // Warm the cache, then revoke: the very next request is refused (well within a second).
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::OK);
    app.call(&owner, "revoke_key", &[("key_id", &id)]).await;
    let started = std::time::Instant::now();
    assert_refused(&app, &id, api_get(&app, &key, "/api/v1/members").await, "revoked").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // A revoke made by another instance (straight in the shared database, this cache not told) bites once
    // the cached state is a second old.
    let (_, key2) = create_key(&app, &owner, "read", &[]).await;
    assert_eq!(api_get(&app, &key2, "/api/v1/members").await.status(), StatusCode::OK);
    sqlx::query("UPDATE api_keys SET revoked_at = 1 WHERE revoked_at IS NULL").execute(&app.state.pool).await.unwrap();
    // Within the second the cached state answers (no database round trip)…
    assert_eq!(api_get(&app, &key2, "/api/v1/members").await.status(), StatusCode::OK);
    // …and from the next second on, the database does.
    app.clock.advance_ms(app::backend::keys::verify::CACHE_TTL_MS);
    let refused = api_get(&app, &key2, "/api/v1/members").await.status() == StatusCode::UNAUTHORIZED;
    assert!(refused, "a revoke made elsewhere bites within the cache lifetime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_keys_need_a_step_up_and_members_hand_out_only_what_they_have() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Powers").await;
    // The sign-in itself counts as a step-up for 10 minutes; after that a master key needs a new one.
    app.clock.advance_ms(11 * app::backend::platform::clock::MINUTE_MS);
    let res = app.call(&owner, "create_key", &[("kind", "master"), ("description", "x")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let err: Value = res.json().await.unwrap();
    assert!(err.to_string().contains("StepUpRequired") || err.to_string().contains("step_up"), "{err}");

    add_member(&app, "Powers", "dev@powers.example", "member").await;
    sqlx::query("UPDATE memberships SET grants = 'api_keys' WHERE role = 'member'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let dev = app.client();
    app.call(&dev, "sign_in", &[("email", "dev@powers.example"), ("password", PASSWORD)]).await;
    // Without the team grant, a member cannot give a key the members list; nor make write or canary keys.
    let res = app.call(&dev, "create_key", &[("kind", "read"), ("description", "x")]).await;
    let status = res.status();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", res.text().await);
    for kind in ["write", "canary", "master"] {
        let res = app.call(&dev, "create_key", &[("kind", kind), ("description", "x")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{kind}");
    }
    sqlx::query("UPDATE memberships SET grants = 'api_keys,team' WHERE role = 'member'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let (dev_key_id, dev_key) = create_key(&app, &dev, "restricted", &[("scope_members", "read")]).await;
    assert_eq!(api_get(&app, &dev_key, "/api/v1/members").await.status(), StatusCode::OK);
    // The member sees their own key only; the owner sees it too.
    let mine: KeysView = app.call(&dev, "get_keys", &[]).await.json().await.unwrap();
    assert_eq!(mine.keys.len(), 1);
    // Deactivating the member revokes the keys they created.
    let members: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let dev_membership = members.members.iter().find(|m| m.email == "dev@powers.example").unwrap();
    app.call(&owner, "deactivate_member", &[("membership_id", &dev_membership.membership_id)]).await;
    assert_refused(&app, &dev_key_id, api_get(&app, &dev_key, "/api/v1/members").await, "revoked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_refuses_records_and_alerts() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Canary").await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    app.call(&owner, "set_key_policy", &[("max_age_days", "365"), ("security_contact", "soc@canary.example")]).await;
    let (id, canary) = create_key(&app, &owner, "canary", &[("looks_like", "write")]).await;
    assert!(canary.starts_with("rmp_write_"), "a canary looks like a real key: {canary}");
    let res = api_client(&app)
        .get(app.url("/api/v1/members"))
        .bearer_auth(&canary)
        .header("user-agent", "curl/8.0 (attacker)")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let events = key_events(&app, &id).await;
    assert_eq!(events[0].0, "key.canary_used");
    assert!(events[0].2.contains("severity high"), "{events:?}");
    for to in [email.as_str(), "soc@canary.example"] {
        let mail = app.wait_for_mail(to, "canary API key").await;
        assert!(mail.contains("curl/8.0 (attacker)") && mail.contains("127.0.0.1"), "{mail}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_near_expiry_are_flagged_for_rotation() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Due").await;
    let (fresh_id, _) = create_key(&app, &owner, "read", &[]).await;
    let (due_id, _) = create_key(&app, &owner, "read", &[("expires_in_days", "20")]).await;
    let keys: KeysView = app.call(&owner, "get_keys", &[]).await.json().await.unwrap();
    let status = |id: &str| keys.keys.iter().find(|k| k.id == id).unwrap().status;
    assert_eq!(status(&fresh_id), app::model::KeyStatus::Active);
    assert_eq!(status(&due_id), app::model::KeyStatus::Due);
    let overview: app::model::OverviewView = app.call(&owner, "get_overview", &[]).await.json().await.unwrap();
    assert_eq!(overview.keys_due, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_unused_longer_than_the_policy_allows_stop_working() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Unused").await;
    let res = app.call(&owner, "set_key_policy", &[("max_age_days", "365"), ("disable_unused_days", "2")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let (used_id, used) = create_key(&app, &owner, "read", &[]).await;
    let (idle_id, idle) = create_key(&app, &owner, "read", &[]).await;
    app.clock.advance_ms(DAY_MS + HOUR_MS);
    assert_eq!(api_get(&app, &used, "/api/v1/members").await.status(), StatusCode::OK);
    app.state.api_log.flush().await;
    app.clock.advance_ms(DAY_MS);
    // Used a day ago: still fine. Never used for two days and an hour: disabled.
    assert_eq!(api_get(&app, &used, "/api/v1/members").await.status(), StatusCode::OK);
    assert_refused(&app, &idle_id, api_get(&app, &idle, "/api/v1/members").await, "disabled_unused").await;
    // Bad policy values are refused and change nothing.
    let owner = app.client();
    app.call(&owner, "sign_in", &[("email", "owner@unused.example"), ("password", PASSWORD)]).await;
    let res = app.call(&owner, "set_key_policy", &[("max_age_days", "0")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.call(&owner, "set_key_policy", &[("max_age_days", "30"), ("security_contact", "not an email")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let keys: KeysView = app.call(&owner, "get_keys", &[]).await.json().await.unwrap();
    assert_eq!(keys.policy.max_age_days, 365);
    assert_eq!(keys.policy.disable_unused_days, Some(2));
    let status = |id: &str| keys.keys.iter().find(|k| k.id == id).unwrap().status;
    assert_eq!(status(&idle_id), app::model::KeyStatus::Disabled);
    assert_eq!(status(&used_id), app::model::KeyStatus::Active);
}
