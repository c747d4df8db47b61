//! API key helpers shared by the keys and REST API tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{TestApp, PASSWORD};
use app::model::FreshKeyView;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::Row as _;

/// Creates a key from the console (after a step-up) and returns (id, secret).
pub async fn create_key(app: &TestApp, client: &Client, kind: &str, extra: &[(&str, &str)]) -> (String, String) {
    app.call(client, "step_up", &[("password", PASSWORD)]).await;
    let mut form = vec![("kind", kind), ("description", "test key")];
    form.extend_from_slice(extra);
    let res = app.call(client, "create_key", &form).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let fresh: Option<FreshKeyView> = app.call(client, "take_fresh_key", &[]).await.json().await.unwrap();
    let fresh = fresh.expect("the secret is shown after creation");
    (fresh.key_id, fresh.secret)
}

/// A client of the REST API: no cookies, no redirects.
pub fn api_client(app: &TestApp) -> Client {
    app.client()
}

pub async fn api_get(app: &TestApp, key: &str, path: &str) -> Response {
    api_client(app).get(app.url(path)).bearer_auth(key).send().await.unwrap()
}

/// A key's events, newest first, after the batched writer caught up.
pub async fn key_events(app: &TestApp, key_id: &str) -> Vec<(String, String, String)> {
    app.state.api_log.flush().await;
    sqlx::query("SELECT action, outcome, detail FROM audit_events WHERE key_id = $1 ORDER BY created_at DESC, id DESC")
        .bind(key_id)
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

pub async fn assert_refused(app: &TestApp, key_id: &str, res: Response, reason: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{reason}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    let events = key_events(app, key_id).await;
    let (action, outcome, detail) = &events[0];
    assert_eq!((action.as_str(), outcome.as_str()), ("api.request", "failure"));
    assert!(detail.contains(&format!("401 ({reason}")), "{detail}");
}
