//! The real server process's memory: what a burst of sign-ins takes for hashing (argon2's 19 MiB a hash) goes
//! back to the system once hashing has been idle for `TRIM_AFTER`, measured as the process's resident set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::process::client_trusting as client;
use crate::common::{self, PASSWORD};
use crate::crash::{call, serve_with, tenant};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// The process's resident set in MB (`VmRSS`).
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024.0 / 1e6
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_of_a_burst_of_sign_ins_goes_back_to_the_system() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let server = serve_with(dir.path(), &db, &[("RAMPART_PASSWORD_HASH_CONCURRENCY", "2")]).await;
    let pid = server.child.id();
    let anonymous = client(dir.path());
    for _ in 0..20 {
        let page = anonymous.get(format!("{}/sign-in", server.base)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    }
    let before = rss_mb(pid);

    let email = tenant(dir.path(), &db, &server).await;
    // Six attempts at once, each for an address nobody has (checked against the dummy hash, the same work):
    // attempts at one account race for its throttle's counter, and all but one would be turned away unhashed.
    let sign_ins: Vec<_> = (0..6)
        .map(|i| {
            let (c, base) = (client(dir.path()), server.base.clone());
            tokio::spawn(async move {
                let email = format!("nobody-{i}@crash.example");
                let res = call(&c, &base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.unwrap();
                (res.status(), res.text().await.unwrap_or_default())
            })
        })
        .collect();
    for s in sign_ins {
        let (status, body) = s.await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains("The email or password is incorrect."), "{body}");
    }
    let during = rss_mb(pid);
    assert!(during - before > 30.0, "two hashes at once hold 2 × 19 MiB: {before:.1} → {during:.1} MB");

    // Unused for `TRIM_AFTER` (20 s), the blocks are freed, and 1.5 s later given back. (The rest of what the
    // sign-ins took stays: sessions, connections, the allocator's caches; about 13 MB in the debug build.)
    let started = Instant::now();
    let mut now = during;
    while during - now < 35.0 && started.elapsed() < Duration::from_secs(45) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        now = rss_mb(pid);
    }
    assert!(during - now >= 35.0, "RSS {before:.1} MB before, {during:.1} after the sign-ins, {now:.1} 45 s later");
    println!("RSS {before:.1} MB before, {during:.1} after the sign-ins, {now:.1} after {:?}", started.elapsed());

    let c = client(dir.path());
    let again = call(&c, &server.base, "sign_in", &[("email", &email), ("password", PASSWORD)]).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "and signing in goes on");
}
