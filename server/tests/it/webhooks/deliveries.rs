//! An endpoint's deliveries page and what an admin does there: every attempt listed, "redeliver" with the same
//! `webhook-id`, disabling (nothing sent, what waited kept) and enabling again; another tenant's admin reaches
//! none of it. And who delivers: endpoints claimed by one worker at a time (on PostgreSQL by two instances at
//! once, `FOR UPDATE SKIP LOCKED`), every delivery once and in order while several endpoints are served at once.

use super::{header, python_signature, received, receiver, with_endpoint};
use crate::common::{backend_name, TestApp, PASSWORD};
use app::model::{WebhookDeliveriesView, WebhooksView};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn view(app: &TestApp, owner: &reqwest::Client, id: &str) -> WebhookDeliveriesView {
    let res = app.call(owner, "get_webhook_deliveries", &[("webhook_id", id)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Polls the deliveries view until `done` holds.
async fn view_until(
    app: &TestApp,
    owner: &reqwest::Client,
    id: &str,
    done: impl Fn(&WebhookDeliveriesView) -> bool,
) -> WebhookDeliveriesView {
    let t = Instant::now();
    loop {
        let v = view(app, owner, id).await;
        if done(&v) {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "never reached: {v:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ok(res: &reqwest::Response) -> bool {
    res.status().is_success() || res.status().is_redirection()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_every_attempt_redelivers_with_the_same_id_and_disabling_keeps_what_waits() {
    let (base, shared) = receiver().await;
    shared.lock().unwrap().answers = vec![(503, vec![("retry-after", "1800".to_owned())])];
    let (app, owner, secret, _) = with_endpoint(&format!("{base}/hook"), "webhook").await;
    let first = received(&shared, 1).await;
    let list: WebhooksView = app.call(&owner, "list_webhooks", &[]).await.json().await.unwrap();
    let id = list.endpoints[0].id.clone();
    // The failed attempt is listed, the delivery waits half an hour (Retry-After).
    let v = view_until(&app, &owner, &id, |v| v.deliveries.first().is_some_and(|d| !d.attempts.is_empty())).await;
    let d = &v.deliveries[0];
    assert_eq!((v.total, d.status.as_str(), d.action.as_deref()), (1, "pending", Some("webhook.created")));
    assert_eq!(d.id, header(&first[0].0, "webhook-id"));
    assert_eq!((d.attempts[0].status, d.attempts[0].response.as_str()), (503, "receiver says no"));
    assert!(d.next_attempt_at.unwrap() >= app.state.clock.now_ms() + 1_700_000, "Retry-After honoured");
    let html = app.get(&owner, &format!("/settings/webhooks/{id}")).await.text().await.unwrap();
    assert!(html.contains(&d.id) && html.contains("HTTP 503") && html.contains("receiver says no"), "{html}");
    let delivery = d.id.clone();

    // Disabled (after a step-up): nothing is sent, not even what falls due, and nothing new is queued.
    let res = app.call(&owner, "set_webhook_enabled", &[("webhook_id", &id), ("enabled", "false")]).await;
    assert!(ok(&res), "{}", res.status());
    app.clock.advance_ms(35 * 60_000);
    let res = app.call(&owner, "create_key", &[("kind", "read"), ("description", "while disabled")]).await;
    assert!(ok(&res));
    let res = app.call(&owner, "redeliver_webhook", &[("webhook_id", &id), ("delivery_id", &delivery)]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "redeliver to a disabled endpoint");
    let res = app.call(&owner, "send_webhook_test", &[("webhook_id", &id)]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a test event to a disabled endpoint");
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 1, "a disabled endpoint is sent nothing");
    let v = view(&app, &owner, &id).await;
    assert_eq!((v.total, v.endpoint.pending, v.endpoint.enabled), (1, 1, false), "what waited still waits");

    // Enabling needs a fresh step-up (the last is 35 minutes old); then what waited goes out (same id, same
    // body), then the enabling itself.
    let res = app.call(&owner, "set_webhook_enabled", &[("webhook_id", &id), ("enabled", "true")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no step-up, no change");
    assert!(ok(&app.call(&owner, "step_up", &[("password", PASSWORD)]).await));
    let bad = app.call(&owner, "set_webhook_enabled", &[("webhook_id", &id), ("enabled", "maybe")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.call(&owner, "set_webhook_enabled", &[("webhook_id", &id), ("enabled", "true")]).await;
    assert!(ok(&res));
    let got = received(&shared, 3).await;
    assert_eq!(header(&got[1].0, "webhook-id"), delivery, "the waiting delivery first, with its id");
    assert_eq!(got[1].1, first[0].1, "and its body");
    let enabled: serde_json::Value = serde_json::from_str(&got[2].1).unwrap();
    assert_eq!(enabled["type"], "webhook.enabled");

    // Redeliver a delivered one: again with the same id and body, signed afresh; the act is recorded.
    let v = view_until(&app, &owner, &id, |v| v.deliveries.iter().all(|d| d.status == "delivered")).await;
    let old = v.deliveries.iter().find(|d| d.id == delivery).unwrap();
    assert_eq!(old.attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [503, 200]);
    let res = app.call(&owner, "redeliver_webhook", &[("webhook_id", &id), ("delivery_id", &delivery)]).await;
    assert!(ok(&res), "{}", res.status());
    let got = received(&shared, 5).await;
    let again = got[3..].iter().find(|(h, _)| header(h, "webhook-id") == delivery).expect("redelivered");
    assert_eq!(again.1, first[0].1);
    assert_eq!(
        header(&again.0, "webhook-signature"),
        python_signature(&secret, &delivery, header(&again.0, "webhook-timestamp"), &again.1)
    );
    let recorded: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'webhook.redelivered' AND detail LIKE $1")
            .bind(format!("{delivery}%"))
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(recorded, 1);

    // Another organisation's admin reaches none of it; an unknown delivery is not found; nothing was sent.
    let (other, _) = app.signed_in("Elsewhere").await;
    assert!(ok(&app.call(&other, "step_up", &[("password", PASSWORD)]).await));
    for (name, form) in [
        ("get_webhook_deliveries", vec![("webhook_id", id.as_str())]),
        ("redeliver_webhook", vec![("webhook_id", id.as_str()), ("delivery_id", delivery.as_str())]),
        ("set_webhook_enabled", vec![("webhook_id", id.as_str()), ("enabled", "false")]),
    ] {
        let res = app.call(&other, name, &form).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}");
        assert!(!res.text().await.unwrap().contains(&delivery));
    }
    let res = app.call(&owner, "redeliver_webhook", &[("webhook_id", &id), ("delivery_id", "msg_nothing")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 5, "nothing else was sent");
    assert!(view(&app, &owner, &id).await.endpoint.enabled, "still enabled");
}

/// The claim: two workers claiming at the same moment get disjoint endpoints; a live lease is not taken; a
/// released one is; an instance that is gone loses its leases at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_per_endpoint_and_a_gone_instances_leases_are_freed() {
    use app::backend::webhooks::claim::{claim, release};
    // No delivery job on these instances: the test is the only one claiming.
    let a = TestApp::spawn_with(|s| {
        s.webhook_allow_loopback = true;
        s.webhook_parallel = 0;
    })
    .await;
    let (owner, _) = a.signed_in("Claims").await;
    assert!(ok(&a.call(&owner, "step_up", &[("password", PASSWORD)]).await));
    for n in 0..6 {
        let url = format!("http://127.0.0.1:9/hook{n}");
        let res = a.call(&owner, "create_webhook", &[("url", url.as_str()), ("events", "webhook")]).await;
        assert!(ok(&res), "{}", res.text().await.unwrap());
    }
    let b = a.beside().await;
    let (x, y) = tokio::join!(claim(&a.state, 4), claim(&b.state, 4));
    let (x, y) = (x.unwrap(), y.unwrap());
    let mut all: Vec<String> = x.iter().chain(&y).map(|(_, e)| e.clone()).collect();
    assert_eq!(all.len(), 6, "every due endpoint claimed once: {x:?} {y:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "never the same endpoint twice: {x:?} {y:?}");
    assert!(claim(&b.state, 8).await.unwrap().is_empty(), "A's live leases are A's");
    assert!(claim(&a.state, 8).await.unwrap().is_empty(), "and B's are B's");
    // A releases one: B may take it.
    release(&a.state, &x[0].1).await.unwrap();
    assert_eq!(claim(&b.state, 8).await.unwrap(), vec![x[0].clone()]);
    // B's leases, as if B had been killed (an instance id whose life lock nobody holds): on PostgreSQL A takes
    // them at once, without waiting out the lease.
    sqlx::query("UPDATE webhook_endpoints SET lease_owner = 'killed-instance' WHERE lease_owner IS NOT NULL AND lease_owner <> $1")
        .bind(a.state.exports.worker_id())
        .execute(&a.state.pool)
        .await
        .unwrap();
    if backend_name() == "sqlite" {
        // One server per SQLite file: a lease is freed when the next server starts, not by a claim.
        assert!(claim(&a.state, 8).await.unwrap().is_empty(), "a lease is not taken while it runs");
        app::backend::webhooks::claim::at_start(&a.state).await.unwrap();
    }
    let mut got: Vec<String> = claim(&a.state, 8).await.unwrap().into_iter().map(|(_, e)| e).collect();
    got.sort();
    let mut want: Vec<String> = y.iter().map(|(_, e)| e.clone()).collect();
    want.push(x[0].1.clone());
    if backend_name() == "sqlite" {
        // Starting frees every lease (A's too: on SQLite a start means the last server is gone).
        want.extend(x[1..].iter().map(|(_, e)| e.clone()));
    }
    want.sort();
    assert_eq!(got, want, "a gone instance's leases are free");
    // A clean stop hands its leases back.
    let b_claimed = claim(&b.state, 8).await.unwrap();
    assert!(b_claimed.is_empty(), "A holds them all: {b_claimed:?}");
    let mut a = a;
    a.running.take().unwrap().stop().await;
    assert_eq!(claim(&b.state, 8).await.unwrap().len(), 6, "released at stop");
}

/// Several endpoints at once, from every instance there is (two on PostgreSQL): each endpoint gets each event
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_gets_each_event_once_and_in_order_while_served_in_parallel() {
    let (base, shared) = receiver().await;
    let (a, owner, _, _) = with_endpoint(&format!("{base}/hook?n=0"), "key").await;
    for n in 1..4 {
        let url = format!("{base}/hook?n={n}");
        let res = a.call(&owner, "create_webhook", &[("url", url.as_str()), ("events", "key")]).await;
        assert!(ok(&res), "{}", res.text().await.unwrap());
    }
    let b = if backend_name() == "postgres" { Some(a.beside().await) } else { None };
    for n in 0..12 {
        let res = a.call(&owner, "create_key", &[("kind", "read"), ("description", &format!("k{n}"))]).await;
        assert!(ok(&res));
    }
    let got = received(&shared, 48).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(shared.lock().unwrap().got.len(), 48, "nothing twice");
    let mut per_endpoint: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    let mut ids = std::collections::BTreeSet::new();
    for (h, body) in &got {
        assert!(ids.insert(header(h, "webhook-id").to_owned()), "a webhook-id twice");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let endpoint = header(h, "webhook-id").rsplit('_').next().unwrap().to_owned();
        per_endpoint.entry(endpoint).or_default().push(v["data"]["seq"].as_i64().unwrap());
    }
    assert_eq!(per_endpoint.len(), 4);
    for (endpoint, seqs) in &per_endpoint {
        assert_eq!(seqs.len(), 12, "{endpoint}");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{endpoint} out of order: {seqs:?}");
    }
    let instances: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT instance) FROM webhook_attempts")
        .fetch_one(&a.state.pool)
        .await
        .unwrap();
    println!("webhooks: 48 deliveries to 4 endpoints by {instances} instance(s)");
    drop(b);
}
