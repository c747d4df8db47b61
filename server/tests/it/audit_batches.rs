//! The access history's batches: one append of many rows lands row for row, a batch that fails part-way keeps
//! nothing, and however the batches vary in size, a connection keeps a handful of prepared inserts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::audit::{tenant_id, verify};
use crate::common::{backend_name, TestApp};
use app::backend::audit::chain::{append, EventRow};
use sqlx::{Connection as _, Row as _};

/// How many statements the connection holds prepared on PostgreSQL; 0 on SQLite.
async fn prepared(conn: &mut sqlx::AnyConnection) -> i64 {
    if backend_name() != "postgres" {
        return 0;
    }
    sqlx::query_scalar("SELECT COUNT(*) FROM pg_prepared_statements").fetch_one(conn).await.unwrap()
}

fn api_event(id: String, tenant: &str, now: i64, i: i64) -> EventRow {
    EventRow {
        id,
        tenant_id: Some(tenant.to_owned()),
        account_id: None,
        actor: format!("API key {i}"),
        action: "api.request".to_owned(),
        outcome: "success".to_owned(),
        ip: "192.0.2.1".to_owned(),
        user_agent: "agent".to_owned(),
        detail: format!("GET /api/v1/members {i}"),
        created_at: now + i,
        key_id: None,
    }
}

/// One append of more rows than one INSERT carries (64): every row lands with its own values in its own place
/// and the chain verifies — the multi-row statement binds by position on SQLite and by number on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_lands_row_for_row() {
    let app = TestApp::spawn().await;
    let (_owner, _) = app.signed_in("Batch").await;
    let t = tenant_id(&app, "Batch").await;
    let now = app.state.clock.now_ms();
    let rows: Vec<EventRow> = (0..150)
        .map(|i| EventRow {
            id: format!("batch-{i:03}"),
            tenant_id: Some(t.clone()),
            account_id: None,
            actor: format!("API key {i}"),
            action: "api.request".to_owned(),
            outcome: if i % 2 == 0 { "success" } else { "failure" }.to_owned(),
            ip: format!("192.0.2.{}", i % 250),
            user_agent: format!("agent/{i}"),
            detail: format!("GET /api/v1/members {i}"),
            created_at: now + i,
            key_id: None,
        })
        .collect();
    let mut tx = app.state.pool.begin().await.unwrap();
    append(&mut tx, &app.state.keys, now + 150, &rows).await.unwrap();
    tx.commit().await.unwrap();

    let stored = sqlx::query("SELECT id, actor, outcome, ip, user_agent, detail, created_at, seq FROM audit_events WHERE id LIKE 'batch-%' ORDER BY seq")
        .fetch_all(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 150);
    let first_seq: i64 = stored[0].get("seq");
    for (i, r) in stored.iter().enumerate() {
        let n = i64::try_from(i).unwrap();
        assert_eq!(r.get::<String, _>("id"), format!("batch-{i:03}"), "in order");
        assert_eq!(r.get::<i64, _>("seq"), first_seq + n, "consecutive");
        assert_eq!(r.get::<String, _>("actor"), format!("API key {i}"));
        assert_eq!(r.get::<String, _>("outcome"), if i % 2 == 0 { "success" } else { "failure" });
        assert_eq!(r.get::<String, _>("ip"), format!("192.0.2.{}", i % 250));
        assert_eq!(r.get::<String, _>("user_agent"), format!("agent/{i}"));
        assert_eq!(r.get::<String, _>("detail"), format!("GET /api/v1/members {i}"));
        assert_eq!(r.get::<i64, _>("created_at"), now + n);
    }
    let report = verify(&app, &t).await;
    assert!(report.ok, "{report:?}");
}

/// A batch whose insert fails part-way (here a duplicate id in its second statement) keeps nothing: not the
/// rows before the failure in that statement (SQLite's `OR FAIL` stops there without undoing them), not the
/// first statement's, not the chain's head; the chain verifies and the next append continues it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_part_way_keeps_nothing() {
    let app = TestApp::spawn().await;
    let (_owner, _) = app.signed_in("Halfway").await;
    let t = tenant_id(&app, "Halfway").await;
    let now = app.state.clock.now_ms();
    let row = |id: String, i: i64| api_event(id, &t, now, i);
    let mut tx = app.state.pool.begin().await.unwrap();
    append(&mut tx, &app.state.keys, now, &[row("half-first".to_owned(), 0)]).await.unwrap();
    tx.commit().await.unwrap();
    let count = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1")
            .bind(&t)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
        n
    };
    let before = count().await;

    let rows: Vec<EventRow> =
        (1..100).map(|i| row(if i == 70 { "half-first".to_owned() } else { format!("half-{i:03}") }, i)).collect();
    let mut tx = app.state.pool.begin().await.unwrap();
    assert!(append(&mut tx, &app.state.keys, now + 100, &rows).await.is_err(), "the duplicate id is refused");
    drop(tx);
    assert_eq!(count().await, before, "nothing of the failed batch is kept");
    let partial: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE id LIKE 'half-0%'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(partial, 0);

    let rows: Vec<EventRow> = (1..100).map(|i| row(format!("half-{i:03}"), i)).collect();
    let mut tx = app.state.pool.begin().await.unwrap();
    append(&mut tx, &app.state.keys, now + 100, &rows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count().await, before + 99);
    let report = verify(&app, &t).await;
    assert!(report.ok, "{report:?}");
}

/// Every batch size from 1 to 150 appended on one connection lands row for row and leaves at most seven
/// insert texts prepared there. Each text stays in the connection's statement cache, so one text per size held
/// up to 64 programs of up to 64 rows on every connection (3.5 MiB of SQLite's memory each) and pushed the
/// other queries out. PostgreSQL lists a session's prepared statements (`pg_prepared_statements`), so the run
/// on it counts them; SQLite has no such view (sqlx's count is not passed through `Any`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_every_size_share_a_few_prepared_inserts() {
    let app = TestApp::spawn().await;
    let (_owner, _) = app.signed_in("Shapes").await;
    let t = tenant_id(&app, "Shapes").await;
    let now = app.state.clock.now_ms();
    let mut conn = app.state.pool.acquire().await.unwrap();
    prepared(&mut conn).await;
    // The first batch prepares the chain head's statements, the webhook check and the one-row insert.
    let mut tx = conn.begin().await.unwrap();
    append(&mut tx, &app.state.keys, now, &[api_event("shape-0".to_owned(), &t, now, 0)]).await.unwrap();
    tx.commit().await.unwrap();
    let before = prepared(&mut conn).await;
    let mut appended = 1;
    for size in 1..=150 {
        let rows: Vec<EventRow> =
            (0..size).map(|i| api_event(format!("shape-{size}-{i}"), &t, now, i64::from(size))).collect();
        let mut tx = conn.begin().await.unwrap();
        append(&mut tx, &app.state.keys, now + 1, &rows).await.unwrap();
        tx.commit().await.unwrap();
        appended += size;
    }
    let added = prepared(&mut conn).await - before;
    assert!(added <= 6, "{added} statements prepared beyond the first batch's");
    drop(conn);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE id LIKE 'shape-%'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(n, i64::from(appended));
    let report = verify(&app, &t).await;
    assert!(report.ok, "{report:?}");
}
