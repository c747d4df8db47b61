//! A database writer cannot hide what the access history recorded (finding 4 and 11 of the attack review):
//! the head and the retention checkpoint are sealed, the heads are anchored outside the database, rows that
//! Rampart did not write are never sealed at start-up and are reported, and a verification running while
//! events are appended never cries wolf — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::audit::{activity, tenant_id, verify};
use crate::common::TestApp;
use app::backend::audit::verify::verify_chain;
use app::backend::platform::clock::Clock as _;
use sqlx::Row as _;

/// (seq, mac, base_seq, base_mac, row_mac) of a chain's head row.
async fn head(app: &TestApp, chain: &str) -> (i64, String, i64, String, String) {
    let r = sqlx::query("SELECT seq, mac, base_seq, base_mac, row_mac FROM audit_chain_heads WHERE chain = $1")
        .bind(chain)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

async fn set_head(app: &TestApp, chain: &str, h: &(i64, String, i64, String, String)) {
    sqlx::query(
        "UPDATE audit_chain_heads SET seq = $1, mac = $2, base_seq = $3, base_mac = $4, row_mac = $5 WHERE chain = $6",
    )
    .bind(h.0)
    .bind(&h.1)
    .bind(h.2)
    .bind(&h.3)
    .bind(&h.4)
    .bind(chain)
    .execute(&app.state.pool)
    .await
    .unwrap();
}

async fn mac_at(app: &TestApp, chain: &str, seq: i64) -> String {
    sqlx::query_scalar("SELECT mac FROM audit_events WHERE tenant_id = $1 AND seq = $2")
        .bind(chain)
        .bind(seq)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

async fn delete_events(app: &TestApp, chain: &str, condition: &str, seq: i64) {
    sqlx::query(&format!("DELETE FROM audit_events WHERE tenant_id = $1 AND {condition}"))
        .bind(chain)
        .bind(seq)
        .execute(&app.state.pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_newest_events_and_rewriting_the_head_is_caught() {
    let app = TestApp::spawn().await;
    let (_, email) = app.signed_in("Truncated").await;
    activity(&app, &email, 4).await;
    let t = tenant_id(&app, "Truncated").await;
    let genuine = head(&app, &t).await;
    assert!(verify(&app, &t).await.ok);
    // Delete the newest 3 events and point the head at the event before them, with its genuine MAC.
    let keep = genuine.0 - 3;
    delete_events(&app, &t, "seq > $2", keep).await;
    let forged = (keep, mac_at(&app, &t, keep).await, genuine.2, genuine.3.clone(), genuine.4.clone());
    set_head(&app, &t, &forged).await;
    let r = verify(&app, &t).await;
    assert!(!r.ok, "{r:?}");
    assert!(r.problem.unwrap().contains("head"), "the rewritten head is named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_older_head_put_back_is_caught_by_the_anchor() {
    let app = TestApp::spawn().await;
    let (_, email) = app.signed_in("Replayed").await;
    activity(&app, &email, 2).await;
    let t = tenant_id(&app, "Replayed").await;
    // The writer keeps a copy of the head row as it was (MAC and all)…
    let old = head(&app, &t).await;
    activity(&app, &email, 2).await;
    // …the anchor job runs (as it does every minute while events flow)…
    assert!(app.state.anchors.write_due(&app.state.pool, &app.state.keys, app.clock.now_ms()).await.unwrap() >= 1);
    let anchored = head(&app, &t).await.0;
    // …then deletes the newest events and puts the old head row back: the database alone looks intact.
    delete_events(&app, &t, "seq > $2", old.0).await;
    set_head(&app, &t, &old).await;
    let r = verify(&app, &t).await;
    assert!(!r.ok, "{r:?}");
    let problem = r.problem.unwrap();
    assert!(problem.contains("anchor") && problem.contains(&format!("#{anchored}")), "{problem}");
    // The CLI says the same, naming the anchor.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATABASE_URL", &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .env("RAMPART_LOG", "warn")
        .args(["audit", "verify", "--tenant", "Replayed"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("anchor"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_oldest_events_and_rewriting_the_checkpoint_is_caught() {
    let app = TestApp::spawn().await;
    let (_, email) = app.signed_in("Beheaded").await;
    activity(&app, &email, 3).await;
    let t = tenant_id(&app, "Beheaded").await;
    let genuine = head(&app, &t).await;
    // Drop events #1 to #4 without an audit.purge, and move the checkpoint past them.
    delete_events(&app, &t, "seq <= $2", 4).await;
    // The checkpoint names the MAC of the last purged event: event #5's prev_mac.
    let base_mac: String = sqlx::query_scalar("SELECT prev_mac FROM audit_events WHERE tenant_id = $1 AND seq = 5")
        .bind(&t)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let forged = (genuine.0, genuine.1.clone(), 4, base_mac, genuine.4.clone());
    set_head(&app, &t, &forged).await;
    let r = verify(&app, &t).await;
    assert!(!r.ok, "{r:?}");
    assert!(r.problem.unwrap().contains("checkpoint"));
    // Nothing Rampart writes next signs over the forgery: not new events (anyone can cause one, a failed
    // sign-in will do), not a retention purge.
    activity(&app, &email, 2).await;
    app::backend::audit::retention::purge_all(
        &app.state.pool,
        &app.state.keys,
        app.clock.now_ms() + 1_000 * 86_400_000,
    )
    .await
    .unwrap();
    let r = verify(&app, &t).await;
    assert!(!r.ok, "re-sealed after the rewrite: {r:?}");
    assert!(r.problem.unwrap().contains("checkpoint"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_inserted_behind_ramparts_back_are_never_sealed_and_are_reported() {
    let mut app = TestApp::spawn().await;
    let (_, email) = app.signed_in("Smuggled").await;
    activity(&app, &email, 1).await;
    let t = tenant_id(&app, "Smuggled").await;
    sqlx::query(
        "INSERT INTO audit_events (id, tenant_id, account_id, actor, action, outcome, ip, user_agent, detail, \
         created_at) VALUES ('forged-1', $1, NULL, 'owner@smuggled.example', 'key.revoke', 'success', '10.0.0.1', \
         'x', 'nothing to see', $2)",
    )
    .bind(&t)
    .bind(app.clock.now_ms() - 86_400_000)
    .execute(&app.state.pool)
    .await
    .unwrap();
    app.running.take().unwrap().stop().await;
    let state = server::build_state(&app.settings, app.clock.clone()).await.unwrap();
    let seq: Option<i64> =
        sqlx::query_scalar("SELECT seq FROM audit_events WHERE id = 'forged-1'").fetch_one(&state.pool).await.unwrap();
    assert_eq!(seq, None, "a restart sealed a row Rampart did not write");
    let r = verify_chain(&state.pool, &state.keys, &state.anchors, &t).await.unwrap();
    assert!(!r.ok);
    assert!(r.problem.unwrap().contains("outside the chain"));
}

/// Finding 11: events appended while a verification runs never make it report a broken chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verification_during_appends_never_cries_wolf() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let (_, email) = app.signed_in("Busy").await;
    let t = tenant_id(&app, "Busy").await;
    let writer = {
        let (app, email) = (app.clone(), email.clone());
        tokio::spawn(async move {
            for _ in 0..40 {
                let res =
                    app.call(&app.client(), "sign_in", &[("email", &email), ("password", "wrong-password-x")]).await;
                assert!(res.status().is_client_error());
            }
        })
    };
    let mut runs = 0;
    while !writer.is_finished() {
        let r = verify(&app, &t).await;
        assert!(r.ok, "a verification during appends reported {r:?}");
        runs += 1;
    }
    writer.await.unwrap();
    assert!(runs > 1);
    assert!(verify(&app, &t).await.ok);
}
