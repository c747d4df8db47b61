//! Two `rampart serve` processes, as an operator runs them behind a load balancer: one database, one bucket,
//! one master key, each its own data folder and port. On PostgreSQL (with the vault in the S3 test server):
//! a session made on A works on B; a key revoked on A is refused on B (the median delay is printed); a file
//! uploaded on A downloads from B; an export is built once, and when A is killed (`kill -9`) in the middle of
//! building it, B finishes it. On SQLite the second server is refused: one file, one server. On both, a webhook
//! cut off by `kill -9` goes out again from the next server with the same `webhook-id`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::process::{self, client_trusting as client, Exited, Served};
use crate::common::{self, backend_name, PASSWORD};
use reqwest::{Client, StatusCode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What both processes share: the database, the blob store, the master key.
struct Shared {
    db: String,
    env: Vec<(String, String)>,
    root: tempfile::TempDir,
}

impl Shared {
    async fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let db = common::database_url(root.path()).await;
        let mut settings = server::startup::config::Settings::default();
        common::use_test_bucket(&mut settings).await;
        let master = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
        };
        let mut env = vec![("RAMPART_MASTER_KEY".to_owned(), master)];
        if let Some(endpoint) = &settings.s3_endpoint {
            env.extend([
                ("RAMPART_BLOB_STORE".to_owned(), "s3".to_owned()),
                ("RAMPART_S3_BUCKET".to_owned(), settings.s3_bucket.clone()),
                ("RAMPART_S3_ENDPOINT".to_owned(), endpoint.clone()),
                ("RAMPART_S3_PATH_STYLE".to_owned(), "true".to_owned()),
                ("RAMPART_S3_ACCESS_KEY_ID".to_owned(), settings.s3_access_key_id.clone()),
                ("RAMPART_S3_SECRET_ACCESS_KEY".to_owned(), "rampart-test-secret".to_owned()),
            ]);
        }
        Self { db, env, root }
    }

    fn dir(&self, name: &str) -> PathBuf {
        let d = self.root.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn command(&self, dir: &Path) -> Command {
        let mut cmd = common::rampart(dir, &self.db);
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// Starts `rampart serve` in its own folder; `cert_from`: the folder whose certificate it serves.
    async fn serve(&self, name: &str, cert_from: Option<&Path>) -> Result<Served, Exited> {
        let dir = self.dir(name);
        process::serve(|| {
            let mut cmd = self.command(&dir);
            if let Some(from) = cert_from {
                cmd.env("RAMPART_TLS_CERT", from.join("data/tls/dev-cert.pem"));
                cmd.env("RAMPART_TLS_KEY", from.join("data/tls/dev-key.pem"));
            }
            cmd
        })
        .await
    }
}

async fn call(c: &Client, s: &Served, name: &str, form: &[(&str, &str)]) -> reqwest::Response {
    c.post(s.url(&format!("/api/{name}"))).header("origin", &s.base).form(form).send().await.unwrap()
}

/// A tenant made with the CLI; its owner sets a password on `server` and signs in there.
async fn signed_in_owner(shared: &Shared, server: &Served, dir: &Path, name: &str, email: &str) -> Client {
    let out = shared
        .command(&shared.dir("cli"))
        .args(["tenant", "create", "--name", name, "--owner", email])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8(out.stdout).unwrap();
    let token = out.split("/setup/").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let browser = client(dir);
    let res = call(&browser, server, "complete_setup", &[("token", &token), ("password", PASSWORD)]).await;
    assert!(res.status().is_success());
    let res = call(&browser, server, "sign_in", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    browser
}

async fn export_state(db: &sqlx::AnyPool) -> Option<(String, Option<String>)> {
    sqlx::query_as("SELECT state, worker FROM data_exports ORDER BY created_at DESC").fetch_optional(db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_sessions_revokes_files_and_jobs_and_one_finishes_what_a_killed_one_began() {
    let shared = Shared::new().await;
    let mut a = shared.serve("a", None).await.unwrap();
    let a_dir = shared.root.path().join("a");
    let b = shared.serve("b", Some(&a_dir)).await;
    if backend_name() == "sqlite" {
        let refused = b.err().expect("a second server on one SQLite file is refused");
        let output = &refused.output;
        assert!(output.contains("another `rampart serve` is already using the SQLite database"), "{output}");
        assert_eq!(refused.status.code(), Some(2));
        return;
    }
    let b = b.unwrap();

    // A tenant made with the CLI; its owner sets a password on A and signs in there.
    let browser = signed_in_owner(&shared, &a, &a_dir, "Twin Co", "owner@twin.example").await;
    let page = browser.get(b.url("/overview")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the session made on A works on B");

    // Keys revoked on A, refused on B: the delay, five times.
    let api = client(&a_dir);
    let mut delays = Vec::new();
    for _ in 0..5 {
        call(&browser, &a, "step_up", &[("password", PASSWORD)]).await;
        assert!(call(&browser, &a, "create_key", &[("kind", "write"), ("description", "twin")])
            .await
            .status()
            .is_success());
        let fresh: serde_json::Value = call(&browser, &a, "take_fresh_key", &[]).await.json().await.unwrap();
        let (id, key) = (fresh["key_id"].as_str().unwrap().to_owned(), fresh["secret"].as_str().unwrap().to_owned());
        let get = || api.get(b.url("/api/v1/members")).bearer_auth(&key).send();
        assert_eq!(get().await.unwrap().status(), StatusCode::OK, "B has the key cached");
        assert!(call(&browser, &a, "revoke_key", &[("key_id", &id)]).await.status().is_success());
        let t = Instant::now();
        while get().await.unwrap().status() != StatusCode::UNAUTHORIZED {
            assert!(t.elapsed() < Duration::from_secs(1), "still accepted on B after a second");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(t.elapsed());
    }
    delays.sort();
    println!("two processes: a key revoked on A is refused on B after {:?} (median of 5, {delays:?})", delays[2]);

    // A file uploaded on A downloads from B, byte for byte.
    call(&browser, &a, "step_up", &[("password", PASSWORD)]).await;
    assert!(call(&browser, &a, "create_key", &[("kind", "write"), ("description", "files")])
        .await
        .status()
        .is_success());
    let fresh: serde_json::Value = call(&browser, &a, "take_fresh_key", &[]).await.json().await.unwrap();
    let key = fresh["secret"].as_str().unwrap().to_owned();
    let body = crate::common::vault::body(24 << 20, 11);
    let up = api
        .put(a.url("/api/v1/vault/files?path=shared/big.bin"))
        .bearer_auth(&key)
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), StatusCode::CREATED);
    let id = up.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let down = api.get(b.url(&format!("/api/v1/vault/files/{id}/content"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(down.status(), StatusCode::OK);
    assert!(down.bytes().await.unwrap()[..] == body[..], "the file uploaded on A reads back whole on B");

    // An export begins on A; A is killed while building it; B finishes it. It is built once.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&shared.db).await.unwrap();
    call(&browser, &a, "step_up", &[("password", PASSWORD)]).await;
    let res = call(&browser, &a, "start_data_export", &[]).await;
    assert!(res.status().is_success(), "{}", res.status());
    let t = Instant::now();
    while export_state(&db).await.is_none_or(|(s, _)| s != "running") {
        assert!(t.elapsed() < Duration::from_secs(20), "the export never started: {:?}", export_state(&db).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.child.kill().unwrap(); // SIGKILL: no shutdown, no cleanup
    a.child.wait().unwrap();
    let running_on_a = export_state(&db).await.unwrap();
    assert_eq!(running_on_a.0, "running", "killed in the middle of the export (make the vault bigger if not)");
    let t = Instant::now();
    let done = loop {
        let (state, worker) = export_state(&db).await.unwrap();
        if state == "ready" {
            break worker;
        }
        assert_ne!(state, "failed");
        assert!(t.elapsed() < Duration::from_secs(30), "B did not finish the export: {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(done, running_on_a.1, "finished by another worker than the killed one");
    println!("two processes: B finished A's export {:?} after A was killed", t.elapsed());
    let starts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action IN ('data_export.ready')")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(starts, 1, "one export, built once");
    let export_id: String = sqlx::query_scalar("SELECT id FROM data_exports").fetch_one(&db).await.unwrap();
    let zip = browser.get(b.url(&format!("/data-export/{export_id}/download"))).send().await.unwrap();
    assert_eq!(zip.status(), StatusCode::OK);
    let zip = zip.bytes().await.unwrap();
    assert!(zip.starts_with(b"PK\x03\x04") && zip.len() > 24 << 20, "the archive holds the vault: {}", zip.len());
    drop(b);
}

/// A webhook in flight when its server is killed (`kill -9`, the receiver holding the request open) goes out
/// again from the server started next, with the same `webhook-id` and body: the outbox row outlives the process
/// and the dead instance's lease is free at once. Both databases (on SQLite the same server is started again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_cut_off_by_a_killed_server_is_delivered_after_restart_with_the_same_id() {
    type Got = Arc<Mutex<Vec<(String, String)>>>;
    async fn hook(axum::extract::State(got): axum::extract::State<Got>, h: axum::http::HeaderMap, body: String) {
        let id = h.get("webhook-id").unwrap().to_str().unwrap().to_owned();
        let first = {
            let mut got = got.lock().unwrap();
            got.push((id, body));
            got.len() == 1
        };
        if first {
            // The first delivery never gets an answer: its server is killed while it waits.
            std::future::pending::<()>().await;
        }
    }
    let got: Got = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut shared = Shared::new().await;
    shared.env.push(("RAMPART_WEBHOOK_ALLOW_LOOPBACK".to_owned(), "true".to_owned()));
    let mut a = shared.serve("a", None).await.unwrap();
    let a_dir = shared.root.path().join("a");
    let browser = signed_in_owner(&shared, &a, &a_dir, "Hook Co", "owner@hook.example").await;
    call(&browser, &a, "step_up", &[("password", PASSWORD)]).await;
    let res = call(&browser, &a, "create_webhook", &[("url", receiver.as_str()), ("events", "webhook")]).await;
    assert!(res.status().is_success(), "{}", res.status());
    let t = Instant::now();
    while got.lock().unwrap().is_empty() {
        assert!(t.elapsed() < Duration::from_secs(20), "the first delivery never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.child.kill().unwrap(); // SIGKILL, the delivery unanswered
    a.child.wait().unwrap();
    let again = shared.serve("a", None).await.unwrap();
    let t = Instant::now();
    while got.lock().unwrap().len() < 2 {
        assert!(t.elapsed() < Duration::from_secs(30), "not delivered after the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("webhooks: a delivery cut off by kill -9 went out {:?} after the restart began", t.elapsed());
    let got = got.lock().unwrap().clone();
    assert_eq!(got[0], got[1], "the same webhook-id and body");
    assert!(got[0].0.starts_with("msg_"));
    drop(again);
}
