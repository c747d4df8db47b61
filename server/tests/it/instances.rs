//! Two instances, one truth: two servers on one database (and one blob store), each with its own caches, as
//! behind a load balancer. A session works on both; a revoke made on one is refused on the other at once on
//! PostgreSQL (pushed with LISTEN/NOTIFY; the median is printed) and within the one-second bound on SQLite;
//! failed sign-ins spread over both reach the single-instance IP limit; a key's hourly budget is one budget.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, create_key};
use crate::common::{backend_name, TestApp};
use app::backend::network::ip_guard::IP_FAILURE_LIMIT;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn pair() -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let b = a.beside().await;
    (a, b)
}

/// Polls `refused` on `b` until it holds; returns how long that took. On SQLite (no push) the clock moves by
/// the one-second bound first.
async fn time_until(app: &TestApp, mut refused: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    if backend_name() == "sqlite" {
        app.clock.advance_ms(1_000);
    }
    while !refused().await {
        assert!(started.elapsed() < Duration::from_secs(2), "the change did not reach the other instance");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_and_a_revoke_reach_the_other_instance() {
    let (a, b) = pair().await;
    let (owner, _) = a.signed_in("Twins").await;
    // The browser's cookie (host-scoped) goes to both instances: the session works on B.
    assert_eq!(b.get(&owner, "/overview").await.status(), StatusCode::OK, "a session made on A works on B");
    let mut delays = Vec::new();
    for round in 0..5 {
        let (id, key) = create_key(&a, &owner, "read", &[]).await;
        // B has the key in its cache.
        assert_eq!(api_get(&b, &key, "/api/v1/members").await.status(), StatusCode::OK, "round {round}");
        let res = a.call(&owner, "revoke_key", &[("key_id", &id)]).await;
        assert!(res.status().is_success(), "{}", res.status());
        let took =
            time_until(&a, async || api_get(&b, &key, "/api/v1/members").await.status() == StatusCode::UNAUTHORIZED)
                .await;
        delays.push(took);
    }
    delays.sort();
    println!("{}: a revoke on A is refused on B after {:?} (median of 5)", backend_name(), delays[2]);
    if backend_name() == "postgres" {
        assert!(delays[2] < Duration::from_millis(500), "pushed, not waited for: {delays:?}");
    }

    // Signing out on A ends the session on B too.
    let res = a.call(&owner, "sign_out", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    time_until(&a, async || b.get(&owner, "/overview").await.status() != StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_spread_over_two_instances_reach_the_single_instance_limit() {
    let (a, b) = pair().await;
    let sprayer = "198.51.100.80";
    let attempt = async |app: &TestApp, i: u32| {
        app.client()
            .post(app.url("/api/sign_in"))
            .header("origin", &app.base)
            .header("x-forwarded-for", sprayer)
            .form(&[("email", format!("user{i}@spray.example").as_str()), ("password", "wrong-password-here-42")])
            .send()
            .await
            .unwrap()
            .status()
    };
    for i in 0..IP_FAILURE_LIMIT {
        let app = if i % 2 == 0 { &a } else { &b };
        assert_eq!(attempt(app, i).await, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    // The 50th failure (on B) started the block; A, which saw only 25, refuses too.
    for app in [&a, &b] {
        let took = time_until(app, async || {
            let res = app.client().get(app.url("/sign-in")).header("x-forwarded-for", sprayer).send().await.unwrap();
            res.status() == StatusCode::TOO_MANY_REQUESTS
        })
        .await;
        assert!(took < Duration::from_secs(2));
    }
    let blocks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'ip.auto_block'")
        .fetch_one(&a.state.pool)
        .await
        .unwrap();
    assert_eq!(blocks, 1, "one block, recorded once");
    let other = a.client().get(a.url("/sign-in")).header("x-forwarded-for", "198.51.100.81").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK, "other addresses are not affected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_hourly_limit_is_one_budget_across_instances() {
    let (a, b) = pair().await;
    let (owner, _) = a.signed_in("Budget").await;
    let (_, key) = create_key(&a, &owner, "read", &[("rate_per_hour", "4")]).await;
    let mut accepted = 0;
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        let status = api_get(app, &key, "/api/v1/members").await.status();
        assert!(status == StatusCode::OK || status == StatusCode::TOO_MANY_REQUESTS, "{status}");
        accepted += usize::from(status == StatusCode::OK);
    }
    assert_eq!(accepted, 4, "two instances give no more than one");
}

/// A background job's pass runs on one instance at a time: the other instance's pass of the same job, started
/// meanwhile, skips its turn; once the first is done, either may run it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_on_one_instance_at_a_time() {
    let (a, b) = pair().await;
    let runs = std::sync::atomic::AtomicUsize::new(0);
    let pass = |pause: u64| {
        let runs = &runs;
        async move {
            runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            Ok::<_, sqlx::Error>(())
        }
    };
    let on_a = server::jobs::exclusive(&a.state.pool, &a.state.metrics, "test_job", pass(400));
    let on_b = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server::jobs::exclusive(&b.state.pool, &b.state.metrics, "test_job", pass(0)).await
    };
    let (ran_a, ran_b) = tokio::join!(on_a, on_b);
    assert_eq!((ran_a.unwrap(), ran_b.unwrap()), (Some(()), None), "B skipped while A ran");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1, "once, not twice");
    let again = server::jobs::exclusive(&b.state.pool, &b.state.metrics, "test_job", pass(0)).await.unwrap();
    assert_eq!(again, Some(()), "free again once A's pass ended");
}
