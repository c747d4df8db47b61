//! The panic button: owner only, after a step-up; freezes (or revokes) every key that can change data, ends
//! every other session of the tenant's members, makes every member sign in again with a second factor, and
//! writes one event listing it all; the undo brings frozen keys back — on SQLite or PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, assert_refused, create_key};
use crate::common::{add_member, TestApp, PASSWORD};
use app::model::{KeyDetailView, KeyStatus, PanicView};
use reqwest::StatusCode;
use sqlx::Row as _;

async fn panic_events(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query("SELECT action, detail FROM audit_events WHERE action LIKE 'tenant.panic%' ORDER BY created_at, id")
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panic_button_stops_keys_sessions_and_password_only_sign_ins_in_one_step() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Alarm").await;
    let (write_id, write_key) = create_key(&app, &owner, "write", &[]).await;
    let (master_id, master_key) = create_key(&app, &owner, "master", &[]).await;
    let (restricted_id, restricted_key) = create_key(&app, &owner, "restricted", &[("scope_members", "write")]).await;
    let (_, read_key) = create_key(&app, &owner, "read", &[]).await;
    for k in [&write_key, &master_key, &restricted_key, &read_key] {
        assert_eq!(api_get(&app, k, "/api/v1/members").await.status(), StatusCode::OK);
    }
    add_member(&app, "Alarm", "admin@alarm.example", "admin").await;
    add_member(&app, "Alarm", "member@alarm.example", "member").await;
    let (admin, _) = app.password_step("admin@alarm.example").await;
    let (member, _) = app.password_step("member@alarm.example").await;
    let (owner_elsewhere, _) = app.password_step(&owner_email).await;
    for c in [&admin, &member, &owner_elsewhere] {
        assert_eq!(app.get(c, "/overview").await.status(), StatusCode::OK);
    }
    let form = [("keys", "freeze"), ("confirm", "PANIC")];
    let html = app.get(&owner, "/security/emergency").await.text().await.unwrap();
    assert!(html.contains("Press the panic button") && html.contains("the 3 API key(s) that can change data"));
    let html = app.get(&admin, "/security/emergency").await.text().await.unwrap();
    assert!(!html.contains("Press the panic button") && html.contains("Only an owner"), "admins see, owners press");

    // An admin is not an owner; an owner needs a fresh step-up and the word typed.
    app.call(&admin, "step_up", &[("password", PASSWORD)]).await;
    assert_eq!(app.call(&admin, "press_panic_button", &form).await.status(), StatusCode::FORBIDDEN);
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "press_panic_button", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("StepUpRequired"));
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "press_panic_button", &[("keys", "freeze"), ("confirm", "panic?")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(panic_events(&app).await.is_empty(), "nothing happened yet");

    let res = app.call(&owner, "press_panic_button", &form).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());

    // Keys that can change data are refused on the very next request; read-only keys keep working.
    assert_refused(&app, &write_id, api_get(&app, &write_key, "/api/v1/members").await, "frozen").await;
    assert_refused(&app, &master_id, api_get(&app, &master_key, "/api/v1/members").await, "frozen").await;
    assert_refused(&app, &restricted_id, api_get(&app, &restricted_key, "/api/v1/members").await, "frozen").await;
    assert_eq!(api_get(&app, &read_key, "/api/v1/members").await.status(), StatusCode::OK);
    let detail: KeyDetailView = app.call(&owner, "get_key", &[("key_id", &write_id)]).await.json().await.unwrap();
    assert_eq!(detail.key.status, KeyStatus::Frozen);

    // Every other session is gone, the owner's own one included elsewhere; the pressing session stays.
    for c in [&admin, &member, &owner_elsewhere] {
        let res = app.get(c, "/overview").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/sign-in");
    }
    assert_eq!(app.get(&owner, "/overview").await.status(), StatusCode::OK);
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'Alarm')",
    )
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(left, 1);

    // Everyone signs in again with a second factor: members without one enroll first.
    let (_, next) = app.password_step("member@alarm.example").await;
    assert!(next.contains("/two-factor/setup"), "{next}");
    let required: i64 = sqlx::query_scalar("SELECT require_two_factor FROM tenants WHERE name = 'Alarm'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(required, 1);

    // One event lists it all.
    let events = panic_events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (_, d) = &events[0];
    assert!(d.contains("keys frozen (3)"), "{d}");
    for id in [&write_id, &master_id, &restricted_id] {
        assert!(d.contains(id.as_str()), "{d} lacks {id}");
    }
    assert!(d.contains("sessions ended: 3"), "{d}");
    assert!(d.contains("for all 3 member(s) (was off), 3 without an authenticator"), "{d}");
    let view: PanicView = app.call(&owner, "get_panic", &[]).await.json().await.unwrap();
    assert_eq!(view.frozen_keys.len(), 3);
    assert!(view.last_panic.is_some());

    // The undo (owner, step-up) brings the frozen keys back, in one event.
    app.clock.advance_ms(11 * 60_000);
    assert_eq!(app.call(&owner, "undo_panic", &[]).await.status(), StatusCode::FORBIDDEN);
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "undo_panic", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    for k in [&write_key, &master_key, &restricted_key] {
        assert_eq!(api_get(&app, k, "/api/v1/members").await.status(), StatusCode::OK);
    }
    let events = panic_events(&app).await;
    assert_eq!(events.len(), 2);
    assert!(events[1].0 == "tenant.panic_undo" && events[1].1.contains("keys unfrozen (3)"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_is_for_good_and_one_key_can_be_unfrozen() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Siren").await;
    let (write_id, write_key) = create_key(&app, &owner, "write", &[]).await;
    let (master_id, master_key) = create_key(&app, &owner, "master", &[]).await;
    let (canary_id, _) = create_key(&app, &owner, "canary", &[]).await;

    // Freeze, then unfreeze one key from its page.
    let res = app.call(&owner, "press_panic_button", &[("keys", "freeze"), ("confirm", "PANIC")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let res = app.call(&owner, "unfreeze_key", &[("key_id", &write_id)]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_eq!(api_get(&app, &write_key, "/api/v1/members").await.status(), StatusCode::OK);
    assert_refused(&app, &master_id, api_get(&app, &master_key, "/api/v1/members").await, "frozen").await;
    let canary: KeyDetailView = app.call(&owner, "get_key", &[("key_id", &canary_id)]).await.json().await.unwrap();
    assert_ne!(canary.key.status, KeyStatus::Frozen, "canaries stay armed");

    // Revoke: the still-frozen key is revoked too, and the undo cannot bring anything back.
    let res = app.call(&owner, "press_panic_button", &[("keys", "revoke"), ("confirm", "PANIC")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_refused(&app, &write_id, api_get(&app, &write_key, "/api/v1/members").await, "revoked").await;
    assert_refused(&app, &master_id, api_get(&app, &master_key, "/api/v1/members").await, "revoked").await;
    let res = app.call(&owner, "undo_panic", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_refused(&app, &write_id, api_get(&app, &write_key, "/api/v1/members").await, "revoked").await;
    let detail = sqlx::query_scalar::<_, String>(
        "SELECT detail FROM audit_events WHERE action = 'tenant.panic' ORDER BY created_at DESC, id DESC",
    )
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(detail.len(), 2);
    assert!(detail.iter().any(|d| d.contains("keys revoked (2)")), "{detail:?}");
}
