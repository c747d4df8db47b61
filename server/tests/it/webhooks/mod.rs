//! Signed webhooks against a receiver on loopback (the operator's test allowance on): deliveries carry the
//! event as recorded (seq and mac), in order, signed so that an independent implementation (a few lines of
//! Python) verifies them; a failure is retried with the same `webhook-id` on the schedule; 410 disables the
//! endpoint and tells the admins; redirects are not followed; private and reserved targets are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod deliveries;

use crate::common::{TestApp, PASSWORD};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver got, and what it answers next (`None`: 200).
#[derive(Default)]
struct Receiver {
    got: Vec<(HeaderMap, String)>,
    answers: Vec<(u16, Vec<(&'static str, String)>)>,
    trap_hits: usize,
}

type Shared = Arc<Mutex<Receiver>>;

async fn hook(axum::extract::State(r): axum::extract::State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut r = r.lock().unwrap();
    r.got.push((headers, body));
    if r.answers.is_empty() {
        return AxumStatus::OK.into_response();
    }
    let (status, headers) = r.answers.remove(0);
    let mut res = (AxumStatus::from_u16(status).unwrap(), "receiver says no").into_response();
    for (k, v) in headers {
        res.headers_mut().insert(k, v.parse().unwrap());
    }
    res
}

async fn trap(axum::extract::State(r): axum::extract::State<Shared>) -> Response {
    r.lock().unwrap().trap_hits += 1;
    AxumStatus::OK.into_response()
}

async fn receiver() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .route("/trap", axum::routing::post(trap).get(trap))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), shared)
}

/// An app that may send to loopback, an owner stepped up, and an endpoint for `events`; returns its secret and
/// the owner's email.
async fn with_endpoint(url: &str, events: &str) -> (TestApp, reqwest::Client, String, String) {
    let app = TestApp::spawn_with(|s| s.webhook_allow_loopback = true).await;
    let (owner, email) = app.signed_in("Hooks").await;
    assert!(app.call(&owner, "step_up", &[("password", PASSWORD)]).await.status().is_success());
    let res = app.call(&owner, "create_webhook", &[("url", url), ("description", "SIEM"), ("events", events)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let fresh: Option<app::model::FreshWebhookSecret> =
        app.call(&owner, "take_fresh_webhook_secret", &[]).await.json().await.unwrap();
    let secret = fresh.expect("the secret, once").secret;
    let again: Option<app::model::FreshWebhookSecret> =
        app.call(&owner, "take_fresh_webhook_secret", &[]).await.json().await.unwrap();
    assert!(again.is_none(), "shown once");
    (app, owner, secret, email)
}

/// An event that needs no session (days later, the owner's has expired): a failed sign-in of the owner.
async fn failed_sign_in(app: &TestApp, email: &str) {
    let res = app.call(&app.client(), "sign_in", &[("email", email), ("password", "not the password at all")]).await;
    assert!(res.status().is_client_error());
}

/// Waits until the receiver got `n` deliveries.
async fn received(shared: &Shared, n: usize) -> Vec<(HeaderMap, String)> {
    let t = Instant::now();
    loop {
        let got = shared.lock().unwrap().got.clone();
        if got.len() >= n {
            return got;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "{} of {n} deliveries arrived", got.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `n` attempts are written (an attempt is written once its answer is in, a moment after the
/// receiver saw the request): a test moving the clock must not move it under an attempt still being recorded.
async fn attempted(app: &TestApp, n: i64) {
    let t = Instant::now();
    loop {
        let got: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_attempts").fetch_one(&app.state.pool).await.unwrap();
        if got >= n {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "{got} of {n} attempts written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The signature as an independent implementation computes it (Python's hmac, not Rampart's code).
fn python_signature(secret: &str, id: &str, ts: &str, body: &str) -> String {
    let script = "import base64,hashlib,hmac,sys\n\
        key = base64.b64decode(sys.argv[1].split('_', 1)[1])\n\
        msg = (sys.argv[2] + '.' + sys.argv[3] + '.' + sys.argv[4]).encode()\n\
        print('v1,' + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode())";
    let out = std::process::Command::new("python3").args(["-c", script, secret, id, ts, body]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap().to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_in_order_and_carry_the_recorded_event() {
    let (base, shared) = receiver().await;
    let (app, owner, secret, _) = with_endpoint(&format!("{base}/hook"), "key,webhook").await;
    assert!(secret.starts_with("whsec_") && secret.len() >= 6 + 44);
    // Three events of the wanted families, one of another (a sign-out) that is not sent.
    for d in ["one", "two"] {
        let res = app.call(&owner, "create_key", &[("kind", "read"), ("description", d)]).await;
        assert!(res.status().is_success() || res.status().is_redirection());
    }
    let got = received(&shared, 3).await;
    let mut seqs = Vec::new();
    for (h, body) in &got {
        let (id, ts) = (header(h, "webhook-id"), header(h, "webhook-timestamp"));
        assert_eq!(header(h, "webhook-signature"), python_signature(&secret, id, ts, body), "verifies independently");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let data = &v["data"];
        let (mac, seq): (String, i64) = sqlx::query_as("SELECT mac, seq FROM audit_events WHERE id = $1")
            .bind(data["id"].as_str().unwrap())
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
        assert_eq!((data["mac"].as_str().unwrap(), data["seq"].as_i64().unwrap()), (mac.as_str(), seq));
        assert_eq!(v["type"], data["action"]);
        seqs.push(seq);
    }
    let actions: Vec<String> = got
        .iter()
        .map(|(_, b)| serde_json::from_str::<serde_json::Value>(b).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["webhook.created", "key.create", "key.create"]);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in the order of the events: {seqs:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 3, "nothing else was sent");

    // A wrong secret does not verify: the check above can fail.
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (h, body) = &got[0];
    assert_ne!(
        header(h, "webhook-signature"),
        python_signature(other, header(h, "webhook-id"), header(h, "webhook-timestamp"), body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_with_the_same_id_and_410_disables_the_endpoint() {
    let (base, shared) = receiver().await;
    shared.lock().unwrap().answers = vec![(503, vec![("retry-after", "7".to_owned())])];
    let (app, owner, _, _) = with_endpoint(&format!("{base}/hook"), "webhook,key").await;
    let first = received(&shared, 1).await;
    // Not again before the wait (5 s, or the longer Retry-After of 7 s) has passed on the server's clock.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 1);
    app.clock.advance_ms(8_000);
    let both = received(&shared, 2).await;
    assert_eq!(header(&both[0].0, "webhook-id"), header(&both[1].0, "webhook-id"), "a retry keeps its id");
    assert_eq!(first[0].1, both[1].1, "and its body");
    // The attempt is written once the answer is in: wait for it.
    let t = Instant::now();
    let attempts: Vec<(i64, String)> = loop {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT status, response FROM webhook_attempts ORDER BY attempted_at")
                .fetch_all(&app.state.pool)
                .await
                .unwrap();
        if rows.len() >= 2 || t.elapsed() > Duration::from_secs(10) {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(attempts.iter().map(|a| a.0).collect::<Vec<_>>(), [503, 200]);
    assert_eq!(attempts[0].1, "receiver says no", "the answer is kept");

    // A receiver that says 410 Gone: the endpoint is disabled, recorded, and the admins told.
    shared.lock().unwrap().answers = vec![(410, vec![])];
    let res = app.call(&owner, "create_key", &[("kind", "read"), ("description", "gone")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    received(&shared, 3).await;
    let t = Instant::now();
    loop {
        let v: app::model::WebhooksView = app.call(&owner, "list_webhooks", &[]).await.json().await.unwrap();
        if !v.endpoints[0].enabled {
            assert!(v.endpoints[0].disabled_reason.as_deref().unwrap().contains("410"));
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "not disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let told: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_alerts WHERE kind = 'webhook_disabled'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(told, 1);
    let disabled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'webhook.disabled'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(disabled, 1);
    // Nothing more goes to it.
    app.call(&owner, "create_key", &[("kind", "read"), ("description", "after")]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_and_redirects_not_followed() {
    // Without the operator's test allowance: loopback, private, link-local, mapped and resolving-to-private
    // targets are refused at once, and so is plain http.
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Hooks Guard").await;
    assert!(app.call(&owner, "step_up", &[("password", PASSWORD)]).await.status().is_success());
    for url in [
        "https://127.0.0.1/h",
        "https://10.0.0.1/h",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/h",
        "https://[::ffff:127.0.0.1]/h",
        "https://localhost/h",
        "http://93.184.216.34/h",
        "https://user:pw@93.184.216.34/h",
        "not a url",
    ] {
        let res = app.call(&owner, "create_webhook", &[("url", url), ("events", "*")]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
    }
    let v: app::model::WebhooksView = app.call(&owner, "list_webhooks", &[]).await.json().await.unwrap();
    assert!(v.endpoints.is_empty());
    // A member who is not an admin cannot add one.
    let res = app.call(&app.client(), "create_webhook", &[("url", "https://93.184.216.34/h"), ("events", "*")]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // A 302 (here to another path of the receiver) is an answer, not an instruction: never followed.
    let (base, shared) = receiver().await;
    shared.lock().unwrap().answers = vec![(302, vec![("location", format!("{base}/trap"))])];
    let (app, _, _, _) = with_endpoint(&format!("{base}/hook"), "webhook").await;
    received(&shared, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().unwrap().trap_hits, 0, "the redirect was not followed");
    let status: i64 =
        sqlx::query_scalar("SELECT status FROM webhook_attempts").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(status, 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_signs_beside_the_new_one_for_the_overlap() {
    let (base, shared) = receiver().await;
    let (app, owner, old, email) = with_endpoint(&format!("{base}/hook"), "sign_in,webhook").await;
    received(&shared, 1).await;
    attempted(&app, 1).await;
    let v: app::model::WebhooksView = app.call(&owner, "list_webhooks", &[]).await.json().await.unwrap();
    let id = v.endpoints[0].id.clone();
    let bad = app.call(&owner, "rotate_webhook_secret", &[("webhook_id", &id), ("overlap_hours", "169")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.call(&owner, "rotate_webhook_secret", &[("webhook_id", &id), ("overlap_hours", "24")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let new: Option<app::model::FreshWebhookSecret> =
        app.call(&owner, "take_fresh_webhook_secret", &[]).await.json().await.unwrap();
    let new = new.unwrap().secret;
    assert_ne!(new, old);
    // The rotation's own event: signed by both, new first.
    let got = received(&shared, 2).await;
    let (h, body) = &got[1];
    let (mid, ts) = (header(h, "webhook-id"), header(h, "webhook-timestamp"));
    let sigs: Vec<&str> = header(h, "webhook-signature").split(' ').collect();
    assert_eq!(sigs, [python_signature(&new, mid, ts, body), python_signature(&old, mid, ts, body)]);
    attempted(&app, 2).await;
    // After the overlap, the new one only.
    app.clock.advance_ms(25 * 3_600_000);
    failed_sign_in(&app, &email).await;
    let got = received(&shared, 3).await;
    let (h, body) = &got[2];
    let (mid, ts) = (header(h, "webhook-id"), header(h, "webhook-timestamp"));
    assert_eq!(header(h, "webhook-signature"), python_signature(&new, mid, ts, body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_five_days_is_disabled_and_its_admins_told() {
    let (base, shared) = receiver().await;
    shared.lock().unwrap().answers = vec![(500, vec![]); 3];
    let (app, _, _, email) = with_endpoint(&format!("{base}/hook"), "sign_in,webhook").await;
    received(&shared, 1).await;
    attempted(&app, 1).await;
    let reason = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT disabled_reason FROM webhook_endpoints")
            .fetch_one(&app.state.pool)
            .await
            .unwrap()
    };
    // Four days on, still failing: kept.
    app.clock.advance_ms(4 * 24 * 3_600_000);
    failed_sign_in(&app, &email).await;
    received(&shared, 2).await;
    attempted(&app, 2).await;
    assert_eq!(reason().await, None);
    // Past five days of nothing but failures: disabled.
    app.clock.advance_ms(24 * 3_600_000 + 60_000);
    failed_sign_in(&app, &email).await;
    let t = Instant::now();
    loop {
        if let Some(why) = reason().await {
            assert!(why.contains("5 days"), "{why}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "not disabled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let told: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_alerts WHERE kind = 'webhook_disabled'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(told, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_event_goes_to_the_chosen_endpoint_whatever_it_wants() {
    let (base, shared) = receiver().await;
    let (app, owner, secret, _) = with_endpoint(&format!("{base}/hook"), "vault").await;
    let v: app::model::WebhooksView = app.call(&owner, "list_webhooks", &[]).await.json().await.unwrap();
    let id = v.endpoints[0].id.clone();
    let res = app.call(&owner, "send_webhook_test", &[("webhook_id", &id)]).await;
    let status = res.status();
    assert!(status.is_success() || status.is_redirection(), "{}", res.text().await.unwrap());
    let got = received(&shared, 1).await;
    let (h, body) = &got[0];
    assert_eq!(serde_json::from_str::<serde_json::Value>(body).unwrap()["type"], "webhook.test");
    assert_eq!(
        header(h, "webhook-signature"),
        python_signature(&secret, header(h, "webhook-id"), header(h, "webhook-timestamp"), body)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 1, "once");
    let res = app.call(&owner, "send_webhook_test", &[("webhook_id", "no-such-endpoint")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
