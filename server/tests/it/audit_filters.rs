//! The access history's filters over REST requests and console acts alike, with the partial indexes that leave
//! successful REST requests out of the member and failure indexes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::common::audit::history;
use crate::common::TestApp;
use app::model::HistoryView;
use reqwest::StatusCode;

/// REST requests are most events and are left out of the account and failure indexes (partial indexes); every
/// filter still finds exactly the events it names, REST requests and console acts alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_finds_rest_requests_and_console_acts_alike() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Partial").await;
    let res = app
        .client()
        .post(app.url("/api/sign_in"))
        .header("origin", &app.base)
        .form(&[("email", email.as_str()), ("password", "wrong-password-4")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (key_id, key) = common::keys::create_key(&app, &owner, "read", &[]).await;
    for _ in 0..2 {
        assert_eq!(common::keys::api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::OK);
    }
    assert_eq!(common::keys::api_get(&app, &key, "/api/v1/keys").await.status(), StatusCode::FORBIDDEN);
    app.state.api_log.flush().await;

    let all = history(&app, &owner, &[]).await;
    let member = all.members.iter().find(|m| m.label == email).unwrap().value.clone();
    let rest = |v: &HistoryView| v.events.iter().filter(|e| e.action == "api.request").count();
    let ok = history(&app, &owner, &[("outcome", "success")]).await;
    assert!(ok.events.iter().all(|e| e.outcome == "success"), "{:?}", ok.events);
    assert_eq!(rest(&ok), 2, "{:?}", ok.events);
    assert!(ok.events.iter().any(|e| e.action == "sign_in"));
    let failed = history(&app, &owner, &[("outcome", "failure")]).await;
    assert!(failed.events.iter().all(|e| e.outcome == "failure"), "{:?}", failed.events);
    assert_eq!(rest(&failed), 1, "{:?}", failed.events);
    assert!(failed.events.iter().any(|e| e.action == "sign_in" && e.detail == "wrong password"));
    let by_key = history(&app, &owner, &[("key", &key_id)]).await;
    // The key's requests and its creation in the console.
    assert_eq!(rest(&by_key), 3, "{:?}", by_key.events);
    assert_eq!(by_key.events.len(), 4, "{:?}", by_key.events);
    assert!(by_key.events.iter().all(|e| e.key_id.as_deref() == Some(&key_id)));
    let key_failed = history(&app, &owner, &[("key", &key_id), ("outcome", "failure")]).await;
    assert_eq!(key_failed.events.len(), 1);
    assert!(key_failed.events[0].detail.contains("403"), "{:?}", key_failed.events);
    let mine = history(&app, &owner, &[("member", &member)]).await;
    assert_eq!(rest(&mine), 0, "{:?}", mine.events);
    assert!(mine.events.iter().any(|e| e.action == "sign_in" && e.outcome == "failure"));
    assert!(mine.events.iter().any(|e| e.action.starts_with("key.")), "{:?}", mine.events);
    let requests = history(&app, &owner, &[("action", "api.request")]).await;
    assert_eq!(requests.events.len(), 3);
}
