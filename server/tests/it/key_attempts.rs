//! Keys that know who is trying them: a key's text carries its public id, so a wrong secret with that id is a
//! failed attempt against that key — counted (consecutive, reset by a success), recorded as `key.auth_failed`
//! with the address, shown on the key's page, and at the 20th in a row emailed once to the key's owner and the
//! security contact. Keys of the first format keep working, flagged for a roll that gives them an id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, create_key};
use crate::common::TestApp;
use app::backend::keys::format;
use app::model::KeyDetailView;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

const RANDOM: &str = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ0bC2eF4hJ6kL8n";

async fn detail(app: &TestApp, owner: &reqwest::Client, id: &str) -> KeyDetailView {
    app.call(owner, "get_key", &[("key_id", id)]).await.json().await.unwrap()
}

async fn alerts(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pending_alerts WHERE kind = 'key_auth_failures'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_wrong_secrets_against_one_key_email_once_and_a_success_resets_the_count() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let (id, secret) = create_key(&app, &owner, "read", &[]).await;
    let parsed = format::parse(&secret).unwrap();
    let public = parsed.id.expect("a new key carries its public id").to_owned();
    assert_eq!(public.len(), format::ID_LEN);
    assert!(!detail(&app, &owner, &id).await.first_format);
    // The right id, a wrong secret (well-formed: the check characters hold).
    let wrong = format::compose("read", Some(&public), RANDOM);
    for n in 1..=25 {
        let res = api_get(&app, &wrong, "/api/v1/members").await;
        assert!(matches!(res.status().as_u16(), 401 | 429), "attempt {n}: {}", res.status());
        if n == 19 {
            assert_eq!(alerts(&app).await, 0, "nothing before the 20th");
        }
        if n == 20 {
            assert_eq!(alerts(&app).await, 1, "one email at the 20th");
        }
    }
    assert_eq!(alerts(&app).await, 1, "and no more after");
    let v = detail(&app, &owner, &id).await;
    assert_eq!(v.failed_attempts, 25);
    assert_eq!(v.last_failure.as_ref().map(|(_, ip)| ip.as_str()), Some("127.0.0.1"));
    let html = app.get(&owner, &format!("/keys/{id}")).await.text().await.unwrap();
    assert!(html.contains("25 failed attempt(s) in a row"), "the key's page shows the attack");
    let recorded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'key.auth_failed' AND key_id = $1 AND ip = '127.0.0.1'",
    )
    .bind(&id)
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert!(recorded >= 1, "recorded in the access history with the address");
    // An id no key has: nothing is counted anywhere.
    let stranger = format::compose("read", Some("zzzzzzzzzzzz"), RANDOM);
    assert_eq!(api_get(&app, &stranger, "/api/v1/members").await.status().as_u16() / 100, 4);
    // The real secret still works and ends the streak.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let res = api_get(&app, &secret, "/api/v1/members").await;
    assert_eq!(res.status(), StatusCode::OK);
    let t = Instant::now();
    while detail(&app, &owner, &id).await.failed_attempts != 0 {
        assert!(t.elapsed() < Duration::from_secs(5), "the count was not reset");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_the_first_format_keeps_working_and_a_roll_gives_it_an_id() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let (id, _) = create_key(&app, &owner, "read", &[]).await;
    // As keys were made before the public id existed.
    let old = format::compose("read", None, RANDOM);
    sqlx::query("UPDATE api_keys SET digest = $1, public_id = NULL WHERE id = $2")
        .bind(app.state.keys.api_key_digest(&old))
        .bind(&id)
        .execute(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(api_get(&app, &old, "/api/v1/members").await.status(), StatusCode::OK, "still works");
    assert!(detail(&app, &owner, &id).await.first_format, "flagged for a roll");
    app.call(&owner, "step_up", &[("password", crate::common::PASSWORD)]).await;
    let res = app.call(&owner, "roll_key", &[("key_id", id.as_str()), ("grace_seconds", "0")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    let fresh: Option<app::model::FreshKeyView> = app.call(&owner, "take_fresh_key", &[]).await.json().await.unwrap();
    let rolled = fresh.unwrap().secret;
    assert!(format::parse(&rolled).unwrap().id.is_some(), "the new secret carries an id");
    assert!(!detail(&app, &owner, &id).await.first_format);
    assert_eq!(api_get(&app, &rolled, "/api/v1/members").await.status(), StatusCode::OK);
}
