//! Property test of the access history's chain: any random edit, deletion, reorder or truncation of a chain,
//! with or without the head and checkpoint rows rewritten to match, is reported broken by verify — on SQLite
//! or PostgreSQL, as the run was given. Each case is a fresh tenant with real sign-ins, anchored as the
//! minute job does, then tampered with in SQL the way a database writer would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{TestApp, PASSWORD};
use app::backend::audit::verify::verify_chain;
use app::backend::platform::clock::Clock as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::StatusCode;
use sqlx::Row as _;

#[derive(Debug, Clone)]
enum Tamper {
    /// Change one column of one event.
    Edit { at: usize, column: usize },
    /// Delete some events (a bit mask over them, never empty).
    Delete { mask: u32 },
    /// Swap the sequence numbers of two events.
    Swap { a: usize, b: usize },
    /// Delete the newest `n`; with `rewrite`, point the head at the survivor's genuine MAC.
    TruncateNewest { n: usize, rewrite: bool },
    /// Delete the oldest `n`; with `rewrite`, move the checkpoint to the survivor's predecessor.
    TruncateOldest { n: usize, rewrite: bool },
}

const COLUMNS: [&str; 7] = ["action", "actor", "detail", "ip", "outcome", "created_at", "user_agent"];

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<usize>(), 0..COLUMNS.len()).prop_map(|(at, column)| Tamper::Edit { at, column }),
        (1u32..u32::MAX).prop_map(|mask| Tamper::Delete { mask }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::Swap { a, b }),
        (1usize..4, any::<bool>()).prop_map(|(n, rewrite)| Tamper::TruncateNewest { n, rewrite }),
        (1usize..4, any::<bool>()).prop_map(|(n, rewrite)| Tamper::TruncateOldest { n, rewrite }),
    ]
}

async fn exec(app: &TestApp, sql: &str, chain: &str, a: i64, b: i64) {
    sqlx::query(sql).bind(chain).bind(a).bind(b).execute(&app.state.pool).await.unwrap();
}

/// Applies the tamper to the chain of `t` (seqs `seqs`, oldest first); false when it would change nothing.
async fn apply(app: &TestApp, t: &str, seqs: &[i64], tamper: &Tamper) -> bool {
    let pick = |i: usize| seqs[i % seqs.len()];
    match tamper {
        Tamper::Edit { at, column } => {
            let seq = pick(*at);
            let set = match COLUMNS[*column] {
                "created_at" => "created_at = created_at + 1".to_owned(),
                "outcome" => "outcome = CASE WHEN outcome = 'success' THEN 'failure' ELSE 'success' END".to_owned(),
                c => format!("{c} = {c} || 'x'"),
            };
            let sql = format!("UPDATE audit_events SET {set} WHERE tenant_id = $1 AND seq = $2 AND $3 = $3");
            exec(app, &sql, t, seq, 0).await;
        }
        Tamper::Delete { mask } => {
            let mut doomed: Vec<i64> =
                seqs.iter().enumerate().filter(|(i, _)| *i < 32 && mask & (1 << i) != 0).map(|(_, s)| *s).collect();
            if doomed.is_empty() {
                doomed.push(pick(*mask as usize));
            }
            for seq in &doomed {
                exec(app, "DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2 AND $3 = $3", t, *seq, 0).await;
            }
        }
        Tamper::Swap { a, b } => {
            let (x, y) = (pick(*a), pick(*b));
            if x == y {
                return false;
            }
            // Through a free number, so no unique index is in the way.
            let free = -1_000_000;
            exec(app, "UPDATE audit_events SET seq = $3 WHERE tenant_id = $1 AND seq = $2", t, x, free).await;
            exec(app, "UPDATE audit_events SET seq = $3 WHERE tenant_id = $1 AND seq = $2", t, y, x).await;
            exec(app, "UPDATE audit_events SET seq = $3 WHERE tenant_id = $1 AND seq = $2", t, free, y).await;
        }
        Tamper::TruncateNewest { n, rewrite } => {
            let keep = seqs[seqs.len() - 1 - n];
            exec(app, "DELETE FROM audit_events WHERE tenant_id = $1 AND seq > $2 AND $3 = $3", t, keep, 0).await;
            if *rewrite {
                let mac: String = sqlx::query_scalar("SELECT mac FROM audit_events WHERE tenant_id = $1 AND seq = $2")
                    .bind(t)
                    .bind(keep)
                    .fetch_one(&app.state.pool)
                    .await
                    .unwrap();
                sqlx::query("UPDATE audit_chain_heads SET seq = $1, mac = $2 WHERE chain = $3")
                    .bind(keep)
                    .bind(mac)
                    .bind(t)
                    .execute(&app.state.pool)
                    .await
                    .unwrap();
            }
        }
        Tamper::TruncateOldest { n, rewrite } => {
            let last_gone = seqs[n - 1];
            let macs: Vec<String> = sqlx::query_scalar(
                "SELECT mac FROM audit_events WHERE tenant_id = $1 AND seq IS NOT NULL ORDER BY seq",
            )
            .bind(t)
            .fetch_all(&app.state.pool)
            .await
            .unwrap();
            exec(app, "DELETE FROM audit_events WHERE tenant_id = $1 AND seq <= $2 AND $3 = $3", t, last_gone, 0).await;
            if *rewrite {
                // The checkpoint a purge would have written: the last purged event's seq and MAC (known to a
                // writer who copied it before deleting).
                sqlx::query("UPDATE audit_chain_heads SET base_seq = $1, base_mac = $2 WHERE chain = $3")
                    .bind(last_gone)
                    .bind(&macs[n - 1])
                    .bind(t)
                    .execute(&app.state.pool)
                    .await
                    .unwrap();
            }
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_edit_deletion_reorder_or_truncation_is_detected() {
    let app = TestApp::spawn().await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    let case = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&tamper(), |tamper| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let outcome = tokio::task::block_in_place(|| {
            handle.block_on(async {
                let name = format!("Chain{n}");
                let (_, email) = app.signed_in(&name).await;
                for _ in 0..3 {
                    app.clock.advance_ms(1000);
                    let c = app.client();
                    let res = app.call(&c, "sign_in", &[("email", email.as_str()), ("password", PASSWORD)]).await;
                    assert_eq!(res.status(), StatusCode::OK);
                }
                let t: String = sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1")
                    .bind(&name)
                    .fetch_one(&app.state.pool)
                    .await
                    .unwrap();
                app.state.anchors.write_due(&app.state.pool, &app.state.keys, app.clock.now_ms()).await.unwrap();
                let seqs: Vec<i64> =
                    sqlx::query("SELECT seq FROM audit_events WHERE tenant_id = $1 AND seq IS NOT NULL ORDER BY seq")
                        .bind(&t)
                        .fetch_all(&app.state.pool)
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                assert!(seqs.len() >= 6, "{seqs:?}");
                let before = verify_chain(&app.state.pool, &app.state.keys, &app.state.anchors, &t).await.unwrap();
                assert!(before.ok, "{before:?}");
                if !apply(&app, &t, &seqs, &tamper).await {
                    return Ok(());
                }
                let after = verify_chain(&app.state.pool, &app.state.keys, &app.state.anchors, &t).await.unwrap();
                if after.ok {
                    Err(format!("{tamper:?} went unnoticed: {after:?}"))
                } else {
                    Ok(())
                }
            })
        });
        outcome.map_err(|e: String| proptest::test_runner::TestCaseError::fail(e))
    });
    result.unwrap();
}
