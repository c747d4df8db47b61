//! PostgreSQL stopped for ten seconds under load (a cluster of the test's own): every request is answered —
//! 200 or 503, never a 500 and never later than the acquire timeout allows — the server recovers by itself
//! when the database is back, and nothing acknowledged before, during or after is lost.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_client, create_key};
use crate::common::pg_cluster::PgCluster;
use crate::common::vault::{body, content, upload};
use crate::common::TestApp;
use reqwest::StatusCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (what, status, how long it took, id of an acknowledged upload)
type Seen = Arc<Mutex<Vec<(&'static str, u16, Duration, Option<String>)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ten_second_database_outage_gives_503s_and_the_server_recovers_by_itself() {
    let cluster = PgCluster::start();
    let url = cluster.url();
    let app = Arc::new(
        TestApp::spawn_with(move |s| {
            s.database_url = url;
            s.database_acquire_timeout_ms = 1_000;
        })
        .await,
    );
    let (owner, _) = app.signed_in("Outage Co").await;
    let (_, key) = create_key(&app, &owner, "write", &[]).await;
    let before = upload(&app, &key, "before.bin", body(100_000, 3)).await["id"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Seen = Arc::default();
    let mut loads = Vec::new();
    for what in ["page", "api", "upload"] {
        let (app, key, stop, seen, owner) = (app.clone(), key.clone(), stop.clone(), seen.clone(), owner.clone());
        loads.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let t = Instant::now();
                let res = match what {
                    "page" => app.get(&owner, "/overview").await,
                    "api" => api_client(&app).get(app.url("/api/v1/members")).bearer_auth(&key).send().await.unwrap(),
                    _ => api_client(&app)
                        .put(app.url(&format!("/api/v1/vault/files?path=during/{i}.bin")))
                        .bearer_auth(&key)
                        .body(vec![7u8; 10_000])
                        .send()
                        .await
                        .unwrap(),
                };
                let status = res.status().as_u16();
                let id = if status == 201 {
                    res.json::<serde_json::Value>().await.ok().and_then(|v| v["id"].as_str().map(str::to_owned))
                } else {
                    None
                };
                seen.lock().unwrap().push((what, status, t.elapsed(), id));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.down();
    let down = seen.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = seen.lock().unwrap()[down..].to_vec();
    cluster.up();
    let back = Instant::now();
    while app.get(&owner, "/overview").await.status() != StatusCode::OK {
        assert!(back.elapsed() < Duration::from_secs(30), "the server did not recover by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = back.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for l in loads {
        l.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    println!(
        "outage: {} requests during the 10 s ({} answered 503), recovered {recovered:?} after the database came back",
        during.len(),
        during.iter().filter(|s| s.1 == 503).count()
    );
    for (what, status, took, _) in &seen {
        assert!(*status < 500 || *status == 503, "{what}: {status}");
        assert!(*took < Duration::from_secs(4), "{what} took {took:?}: waiting must end at the acquire timeout");
    }
    assert!(during.iter().filter(|s| s.1 == 503).count() >= 3, "the outage was answered 503: {during:?}");
    for what in ["page", "api", "upload"] {
        let last = seen.iter().rev().find(|s| s.0 == what).unwrap();
        assert!(last.1 == 200 || last.1 == 201, "{what} works again: {last:?}");
    }
    // Nothing acknowledged is lost: the file from before, and every upload answered 201 at any time.
    assert_eq!(content(&app, &key, &before, None).await.status(), StatusCode::OK);
    for (_, _, _, id) in &seen {
        if let Some(id) = id {
            assert_eq!(content(&app, &key, id, None).await.status(), StatusCode::OK, "acknowledged upload {id}");
        }
    }
}
