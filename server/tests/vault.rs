//! The encrypted vault over the REST API and the console routes: round trips at the chunk boundaries and at
//! 50 MB, tamper detection, versions and the bin, ephemeral links, key scopes and tenant isolation, and the
//! master key rotation as an operator runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::backend::vault::cipher::CHUNK_SIZE;
use common::keys::{api_client, create_key};
use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row as _;

/// Bytes that look like nothing in particular, reproducible from a seed.
fn body(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

async fn put(app: &TestApp, key: &str, path: &str, bytes: Vec<u8>) -> reqwest::Response {
    api_client(app)
        .put(app.url(&format!("/api/v1/vault/files?path={path}")))
        .bearer_auth(key)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn upload(app: &TestApp, key: &str, path: &str, bytes: Vec<u8>) -> Value {
    let res = put(app, key, path, bytes).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

async fn content(app: &TestApp, key: &str, id: &str, version: Option<&str>) -> reqwest::Response {
    let q = version.map(|v| format!("?version={v}")).unwrap_or_default();
    api_client(app).get(app.url(&format!("/api/v1/vault/files/{id}/content{q}"))).bearer_auth(key).send().await.unwrap()
}

/// The blob file of a file's current version.
async fn blob_path(app: &TestApp, id: &str) -> std::path::PathBuf {
    let r = sqlx::query(
        "SELECT o.tenant_id, v.blob FROM vault_objects o JOIN vault_versions v ON v.id = o.current_version_id WHERE o.id = $1",
    )
    .bind(id)
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    let tenant: String = r.get(0);
    let blob: String = r.get(1);
    app.settings.data_dir.join("vault").join(tenant).join(&blob[..2]).join(blob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_at_every_chunk_boundary_and_at_50_mb() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let (_, read) = create_key(&app, &owner, "read", &[]).await;
    for (i, len) in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 50 << 20].into_iter().enumerate() {
        let bytes = body(len, i as u64 + 1);
        let file = upload(&app, &write, &format!("sizes/file-{len}.bin"), bytes.clone()).await;
        assert_eq!(file["size"], len as i64);
        let id = file["id"].as_str().unwrap().to_owned();
        let res = content(&app, &read, &id, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers().clone();
        assert_eq!(h["content-length"].to_str().unwrap(), len.to_string());
        assert_eq!(h["x-content-type-options"], "nosniff");
        let disposition = h["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment;") && disposition.contains(&format!("file-{len}.bin")),
            "{disposition}"
        );
        let got = res.bytes().await.unwrap();
        assert!(got[..] == bytes[..], "round trip of {len} bytes");
        // On disk: ciphertext only (no 64-byte run of the plaintext), chunk tags included.
        let stored = std::fs::read(blob_path(&app, &id).await).unwrap();
        assert_eq!(stored.len() as u64, app::backend::vault::cipher::sealed_len(len as u64));
        if len >= 64 {
            let probe = &bytes[len / 2..len / 2 + 64];
            assert!(!stored.windows(64).any(|w| w == probe), "plaintext found on disk");
        }
    }
    // A name no filesystem would like is just a label: the blob's name is a server id.
    let odd = upload(&app, &write, "a/Bilan été \"final\";.pdf", b"x".to_vec()).await;
    let res = content(&app, &read, odd["id"].as_str().unwrap(), None).await;
    assert_eq!(
        res.headers()["content-disposition"].to_str().unwrap(),
        "attachment; filename=\"Bilan _t_ _final__.pdf\"; filename*=UTF-8''Bilan%20%C3%A9t%C3%A9%20%22final%22%3B.pdf"
    );
    for bad in ["../etc/passwd", "a//b", "", "x/./y"] {
        let res = put(&app, &write, bad, b"no".to_vec()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_ciphertext_byte_is_detected_on_read() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let bytes = body(3 * CHUNK_SIZE + 77, 9);
    let file = upload(&app, &write, "ledger.bin", bytes.clone()).await;
    let id = file["id"].as_str().unwrap();
    let path = blob_path(&app, id).await;
    let mut stored = std::fs::read(&path).unwrap();
    stored[2 * CHUNK_SIZE + 100] ^= 0x01;
    std::fs::write(&path, &stored).unwrap();
    let res = content(&app, &write, id, None).await;
    assert_eq!(res.status(), StatusCode::OK, "headers go out before the altered chunk is reached");
    match res.bytes().await {
        Err(_) => {}
        Ok(got) => {
            assert!(got.len() < bytes.len(), "an altered file never arrives whole");
            assert_eq!(&got[..], &bytes[..got.len()], "only chunks proven authentic were sent");
        }
    }
    // Swapping in another file's blob (same tenant) fails too: every chunk is bound to its blob's name.
    let other = upload(&app, &write, "other.bin", body(1000, 3)).await;
    let other_path = blob_path(&app, other["id"].as_str().unwrap()).await;
    std::fs::copy(&other_path, &path).unwrap();
    let res = content(&app, &write, id, None).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "fails before any byte is sent");
    let text = res.text().await.unwrap();
    assert!(text.contains("ref"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_and_tenants_fence_the_vault() {
    let app = TestApp::spawn().await;
    let (owner_a, _) = app.signed_in("Initech").await;
    let (owner_b, _) = app.signed_in("Globex").await;
    let (_, read_a) = create_key(&app, &owner_a, "read", &[]).await;
    let (_, write_a) = create_key(&app, &owner_a, "write", &[]).await;
    let (_, members_only) = create_key(&app, &owner_a, "restricted", &[("scope_members", "read")]).await;
    let (_, write_b) = create_key(&app, &owner_b, "write", &[]).await;

    assert_eq!(put(&app, &read_a, "x.txt", b"no".to_vec()).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(put(&app, &members_only, "x.txt", b"no".to_vec()).await.status(), StatusCode::FORBIDDEN);
    let file = upload(&app, &write_a, "secret/plan.txt", b"A's plan".to_vec()).await;
    let id = file["id"].as_str().unwrap();
    assert_eq!(content(&app, &members_only, id, None).await.status(), StatusCode::FORBIDDEN);
    let listing: Value = api_client(&app)
        .get(app.url("/api/v1/vault/files"))
        .bearer_auth(&read_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing["folders"], serde_json::json!(["secret/"]));

    // Tenant B knows A's id: nothing, in every way in.
    assert_eq!(content(&app, &write_b, id, None).await.status(), StatusCode::NOT_FOUND);
    let b = api_client(&app);
    assert_eq!(
        b.get(app.url(&format!("/api/v1/vault/files/{id}"))).bearer_auth(&write_b).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.delete(app.url(&format!("/api/v1/vault/files/{id}"))).bearer_auth(&write_b).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let link = b
        .post(app.url(&format!("/api/v1/vault/files/{id}/links")))
        .bearer_auth(&write_b)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), StatusCode::NOT_FOUND);
    let console = app.get(&owner_b, &format!("/vault/files/{id}/download")).await;
    assert_eq!(console.status(), StatusCode::NOT_FOUND);
    let listing: Value =
        b.get(app.url("/api/v1/vault/files?q=plan")).bearer_auth(&write_b).send().await.unwrap().json().await.unwrap();
    assert_eq!(listing["files"], serde_json::json!([]));
    // The owner of A downloads from the console.
    let res = app.get(&owner_a, &format!("/vault/files/{id}/download")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"A's plan");
    // Signed out: refused.
    let res = app.get(&app.client(), &format!("/vault/files/{id}/download")).await;
    assert!(matches!(res.status(), StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER), "{}", res.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_restore_and_the_bin() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let first = upload(&app, &write, "contracts/acme.txt", b"version one".to_vec()).await;
    let id = first["id"].as_str().unwrap().to_owned();
    let second = upload(&app, &write, "/contracts/acme.txt", b"version two".to_vec()).await;
    assert_eq!(second["id"], first["id"], "same path, same file");
    assert_eq!(second["versions"], 2);
    let detail: Value = api_client(&app)
        .get(app.url(&format!("/api/v1/vault/files/{id}")))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions = detail["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let v1 = versions.iter().find(|v| v["number"] == 1).unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(content(&app, &write, &id, Some(&v1)).await.bytes().await.unwrap().as_ref(), b"version one");
    assert_eq!(content(&app, &write, &id, None).await.bytes().await.unwrap().as_ref(), b"version two");

    let restored = api_client(&app)
        .post(app.url(&format!("/api/v1/vault/files/{id}/versions/{v1}/restore")))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(restored.status(), StatusCode::OK);
    let restored: Value = restored.json().await.unwrap();
    assert_eq!(restored["versions"], 3, "a restore is a new version; history is kept");
    assert_eq!(content(&app, &write, &id, None).await.bytes().await.unwrap().as_ref(), b"version one");

    // The bin: hidden, restorable, then purged after the window.
    let c = api_client(&app);
    assert_eq!(
        c.delete(app.url(&format!("/api/v1/vault/files/{id}"))).bearer_auth(&write).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(content(&app, &write, &id, None).await.status(), StatusCode::NOT_FOUND);
    let bin: Value = c
        .get(app.url("/api/v1/vault/files?deleted=true"))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bin["files"][0]["id"], id.as_str());
    let back = c.post(app.url(&format!("/api/v1/vault/files/{id}/undelete"))).bearer_auth(&write).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(content(&app, &write, &id, None).await.bytes().await.unwrap().as_ref(), b"version one");

    let blob = blob_path(&app, &id).await;
    c.delete(app.url(&format!("/api/v1/vault/files/{id}"))).bearer_auth(&write).send().await.unwrap();
    app.clock.advance_ms(29 * 86_400_000);
    assert_eq!(app::backend::vault::manage::purge_expired(&app.state).await.unwrap(), 0, "inside the window");
    app.clock.advance_ms(2 * 86_400_000);
    assert_eq!(app::backend::vault::manage::purge_expired(&app.state).await.unwrap(), 1);
    assert!(!blob.exists(), "the ciphertext is gone too");
    assert_eq!(
        c.post(app.url(&format!("/api/v1/vault/files/{id}/undelete")))
            .bearer_auth(&write)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM vault_versions WHERE object_id = $1")
        .bind(&id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_links_expire_and_single_use_links_work_once() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let (_, read) = create_key(&app, &owner, "read", &[]).await;
    let file = upload(&app, &write, "share/report.pdf", b"%PDF report".to_vec()).await;
    let id = file["id"].as_str().unwrap();
    let mint = |body: Value| {
        let app = &app;
        let read = read.clone();
        async move {
            api_client(app)
                .post(app.url(&format!("/api/v1/vault/files/{id}/links")))
                .bearer_auth(read)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let too_long = mint(serde_json::json!({"minutes": 7 * 24 * 60 + 1})).await;
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let hour: Value = mint(serde_json::json!({})).await.json().await.unwrap();
    let once: Value = mint(serde_json::json!({"single_use": true, "minutes": 10})).await.json().await.unwrap();
    // The link names the console's public origin; the test server listens on its own port.
    assert!(hour["url"].as_str().unwrap().starts_with(&format!("{}/vault/links/", app.state.public_url)));
    let url =
        |v: &Value| format!("{}/vault/links/{}", app.base, v["url"].as_str().unwrap().rsplit('/').next().unwrap());

    let anonymous = app.client();
    for _ in 0..2 {
        let res = anonymous.get(url(&hour)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers()["content-disposition"].to_str().unwrap().contains("report.pdf"));
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"%PDF report");
    }
    assert_eq!(anonymous.get(url(&once)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(anonymous.get(url(&once)).send().await.unwrap().status(), StatusCode::GONE, "single use");
    app.clock.advance_ms(61 * 60_000);
    assert_eq!(anonymous.get(url(&hour)).send().await.unwrap().status(), StatusCode::GONE, "expired");
    let forged = format!("{}/vault/links/{}", app.base, "A".repeat(43));
    assert_eq!(anonymous.get(forged).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Every use and refusal is in the tenant's history.
    let rows = sqlx::query("SELECT outcome FROM audit_events WHERE action = 'vault.link_use' ORDER BY seq")
        .fetch_all(&app.state.pool)
        .await
        .unwrap();
    let outcomes: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(outcomes, ["success", "success", "success", "failure", "failure"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_master_key_rewraps_tenant_keys_and_keeps_every_file_readable() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let mut files = Vec::new();
    for i in 0..3 {
        let bytes = body(CHUNK_SIZE + i * 1000, i as u64 + 40);
        let f = upload(&app, &write, &format!("keep/{i}.bin"), bytes.clone()).await;
        files.push((f["id"].as_str().unwrap().to_owned(), bytes));
    }
    let wrapped_before: Vec<(String, String)> = sqlx::query("SELECT wrapped, wrap_key_id FROM vault_data_keys")
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let blobs_before: Vec<Vec<u8>> = {
        let mut v = Vec::new();
        for (id, _) in &files {
            v.push(std::fs::read(blob_path(&app, id).await).unwrap());
        }
        v
    };

    // The operator's command, as run on the server's machine.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATABASE_URL", &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .env("RAMPART_LOG", "warn")
        .args(["keys", "rotate-master"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 tenant data key(s) re-wrapped"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let wrapped_after: Vec<(String, String)> = sqlx::query("SELECT wrapped, wrap_key_id FROM vault_data_keys")
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_ne!(wrapped_after[0].1, wrapped_before[0].1, "wrapped under the new master");
    assert_ne!(wrapped_after[0].0, wrapped_before[0].0);
    for ((id, _), before) in files.iter().zip(&blobs_before) {
        assert_eq!(&std::fs::read(blob_path(&app, id).await).unwrap(), before, "file bodies untouched");
    }

    // A server started now (new master, old one kept aside) reads every file.
    let restarted = server::build_state(&app.settings, app.clock.clone()).await.unwrap();
    assert_eq!(restarted.keys.vault_wrap_key_id(), wrapped_after[0].1);
    let tenant: String =
        sqlx::query("SELECT tenant_id FROM vault_data_keys").fetch_one(&app.state.pool).await.unwrap().get(0);
    for (id, bytes) in &files {
        let d = app::backend::vault::files::open_version(&restarted, &tenant, id, None, false).await.unwrap();
        let mut got = Vec::new();
        let mut s = d.body;
        use futures_util::StreamExt as _;
        while let Some(piece) = s.next().await {
            got.extend_from_slice(&piece.unwrap());
        }
        assert!(&got == bytes);
    }
    // The old server (old master only) can no longer open the re-wrapped key: it really moved.
    let mut conn = app.state.pool.acquire().await.unwrap();
    assert!(app::backend::vault::keys::by_version(&mut conn, &app.state.keys, &tenant, 1).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_tenants_leftover_ciphertext_is_unreadable() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Shredded Co").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let secret = body(CHUNK_SIZE + 10, 77);
    let file = upload(&app, &write, "payroll.csv", secret.clone()).await;
    let id = file["id"].as_str().unwrap().to_owned();
    // A copy of the ciphertext survives somewhere (a backup, a disk image).
    let leftover = std::fs::read(blob_path(&app, &id).await).unwrap();
    let tenant: String = sqlx::query("SELECT tenant_id FROM vault_objects WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0);
    let data_key = {
        let mut conn = app.state.pool.acquire().await.unwrap();
        app::backend::vault::keys::by_version(&mut conn, &app.state.keys, &tenant, 1).await.unwrap().key
    };
    let blob: String = sqlx::query("SELECT blob FROM vault_versions WHERE object_id = $1")
        .bind(&id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0);
    let decrypt = |key: &[u8; 32]| {
        let mut d =
            app::backend::vault::cipher::Decryptor::new(key, app::backend::vault::cipher::blob_aad(&tenant, &blob));
        let mut out = Vec::new();
        d.push(&leftover, &mut out).and_then(|()| d.finish(&mut out)).map(|()| out)
    };
    assert!(decrypt(&data_key).unwrap() == secret, "with its key, the copy opens");

    app.call(&owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.call(&owner, "request_closure", &[("confirm", "Shredded Co")]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    app.clock.advance_ms(14 * 86_400_000 + 60_000);
    let closed = app::backend::closure::delete::close_due(&app.state).await.unwrap();
    assert_eq!(closed.len(), 1);

    let keys: i64 = sqlx::query("SELECT COUNT(*) FROM vault_data_keys WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 0, "the tenant's data key is destroyed");
    assert!(!app.settings.data_dir.join("vault").join(&tenant).exists(), "blobs removed as well");
    // Nothing the server holds opens the copy: not its master-derived keys, not a fresh key for the tenant.
    let mut conn = app.state.pool.acquire().await.unwrap();
    assert!(app::backend::vault::keys::by_version(&mut conn, &app.state.keys, &tenant, 1).await.is_err());
    let fresh = app::backend::vault::keys::active(&mut conn, &app.state.keys, &tenant, 0).await.unwrap();
    assert!(decrypt(&fresh.key).is_err(), "a new key for the same id opens nothing old");
    assert!(!leftover.windows(64).any(|w| w == &secret[1000..1064]), "and the copy holds no plaintext");
}

/// A stand-in for clamd on a Unix socket, speaking its INSTREAM protocol: flags the EICAR test string.
fn fake_clamd(path: &std::path::Path) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut command = [0u8; 10];
                conn.read_exact(&mut command).await.unwrap();
                assert_eq!(&command, b"zINSTREAM\0");
                let mut data = Vec::new();
                loop {
                    let mut len = [0u8; 4];
                    conn.read_exact(&mut len).await.unwrap();
                    let len = u32::from_be_bytes(len) as usize;
                    if len == 0 {
                        break;
                    }
                    let mut piece = vec![0u8; len];
                    conn.read_exact(&mut piece).await.unwrap();
                    data.extend_from_slice(&piece);
                }
                let eicar: &[u8] = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE";
                let reply: &[u8] = if data.windows(eicar.len()).any(|w| w == eicar) {
                    b"stream: Eicar-Test-Signature FOUND\0"
                } else {
                    b"stream: OK\0"
                };
                conn.write_all(reply).await.unwrap();
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virus_scan_hook_refuses_flagged_files_and_fails_closed() {
    let sock_dir = tempfile::tempdir().unwrap();
    let sock = sock_dir.path().join("clamd.sock");
    fake_clamd(&sock);
    let sock_text = sock.display().to_string();
    let app = TestApp::spawn_with(|s| s.clamd_socket = Some(sock_text)).await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    upload(&app, &write, "clean.txt", body(300_000, 5)).await;

    let mut infected = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$".to_vec();
    infected.extend_from_slice(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    let res = put(&app, &write, "invoice.exe", infected).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Eicar-Test-Signature"));
    let objects: i64 =
        sqlx::query("SELECT COUNT(*) FROM vault_objects").fetch_one(&app.state.pool).await.unwrap().get(0);
    assert_eq!(objects, 1, "the flagged file is not stored");
    let tenant: String =
        sqlx::query("SELECT tenant_id FROM vault_objects").fetch_one(&app.state.pool).await.unwrap().get(0);
    let files_on_disk = walk(&app.settings.data_dir.join("vault").join(&tenant));
    assert_eq!(files_on_disk, 1, "no blob, no partial file left");
    let refused: i64 =
        sqlx::query("SELECT COUNT(*) FROM audit_events WHERE action = 'vault.upload' AND outcome = 'failure'")
            .fetch_one(&app.state.pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(refused, 1);

    // Scanner configured but down: uploads are refused, not let through unscanned.
    std::fs::remove_file(&sock).unwrap();
    let res = put(&app, &write, "later.txt", b"hello".to_vec()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(walk(&app.settings.data_dir.join("vault").join(&tenant)), 1);
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

/// A form whose body fits in one write: refused requests are answered before the body is read.
fn tiny_form() -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"))
}

fn two_files(folder: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("folder", folder.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"alpha".to_vec()).file_name("a.txt").mime_str("text/plain").unwrap(),
        )
        .part("file", reqwest::multipart::Part::bytes(body(70_000, 8)).file_name("b.bin"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_uploads_multipart_forms_with_and_without_javascript() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    // Without JavaScript: the form posts, the browser is sent back to the folder with a notice.
    let res = owner
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "text/html")
        .multipart(two_files("docs/2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/vault?folder=docs/2026/&notice=2%20files%20uploaded");
    // With JavaScript: the same form by XHR, answered with the files.
    let res = owner
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "application/json")
        .multipart(two_files("docs/2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let files: Vec<app::model::VaultFileView> = res.json().await.unwrap();
    assert_eq!(
        files.iter().map(|f| (f.path.as_str(), f.versions)).collect::<Vec<_>>(),
        [("docs/2026/a.txt", 2), ("docs/2026/b.bin", 2)]
    );
    let res = app.get(&owner, &format!("/vault/files/{}/download", files[1].id)).await;
    assert!(res.bytes().await.unwrap()[..] == body(70_000, 8)[..]);
    // A bad folder is a clear error and stores nothing; so is a form without a file.
    let res = owner
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "application/json")
        .multipart(two_files("../up"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let empty = reqwest::multipart::Form::new().text("folder", "");
    let res = owner
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "text/html")
        .multipart(empty)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/vault?error=Choose"));
    let count: i64 =
        sqlx::query("SELECT COUNT(*) FROM vault_versions").fetch_one(&app.state.pool).await.unwrap().get(0);
    assert_eq!(count, 4);

    // Another site cannot post into the vault with the member's cookie; a member without the grant cannot
    // upload; signed out, nothing.
    let res = owner
        .post(app.url("/vault/upload"))
        .header("origin", "https://evil.example")
        .multipart(tiny_form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    common::add_member(&app, "Initech", "plain@initech.example", "member").await;
    let (member, _) = app.password_step("plain@initech.example").await;
    let res = member
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "application/json")
        .multipart(tiny_form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.get(&member, &format!("/vault/files/{}/download", files[0].id)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .client()
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "application/json")
        .multipart(tiny_form())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let count: i64 =
        sqlx::query("SELECT COUNT(*) FROM vault_versions").fetch_one(&app.state.pool).await.unwrap().get(0);
    assert_eq!(count, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_rotation_reencrypts_every_file_and_export_in_the_background() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, master) = create_key(&app, &owner, "master", &[]).await;
    let mut files = Vec::new();
    for i in 0..3 {
        let bytes = body(CHUNK_SIZE / 2 + i * 7, i as u64 + 60);
        let f = upload(&app, &master, &format!("rot/{i}.bin"), bytes.clone()).await;
        files.push((f["id"].as_str().unwrap().to_owned(), bytes));
    }
    // A second version sharing nothing, and a restored one sharing its blob with version 1.
    let id0 = files[0].0.clone();
    upload(&app, &master, "rot/0.bin", b"v2".to_vec()).await;
    let detail: Value = api_client(&app)
        .get(app.url(&format!("/api/v1/vault/files/{id0}")))
        .bearer_auth(&master)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v1 = detail["versions"].as_array().unwrap().iter().find(|v| v["number"] == 1).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = api_client(&app)
        .post(app.url(&format!("/api/v1/vault/files/{id0}/versions/{v1}/restore")))
        .bearer_auth(&master)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // A finished data export, encrypted under the same key.
    let started: Value = api_client(&app)
        .post(app.url("/api/v1/exports"))
        .bearer_auth(&master)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let export_id = started["id"].as_str().unwrap().to_owned();
    app::backend::export::job::run_pending(&app.state).await.unwrap();

    // Refused without a fresh step-up (the one for the master key is 11 minutes old); started with one; new
    // uploads use the new key at once.
    app.clock.advance_ms(11 * 60_000);
    assert_eq!(app.call(&owner, "rotate_vault_key", &[]).await.status(), StatusCode::FORBIDDEN);
    app.call(&owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.call(&owner, "rotate_vault_key", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    assert_eq!(app.call(&owner, "rotate_vault_key", &[]).await.status(), StatusCode::CONFLICT, "one at a time");
    let fresh = upload(&app, &master, "rot/new.bin", b"after".to_vec()).await;
    let versions_of = |v: i64| {
        let pool = app.state.pool.clone();
        async move {
            sqlx::query("SELECT COUNT(*) FROM vault_versions WHERE key_version = $1")
                .bind(v)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    assert_eq!(versions_of(2).await, 1, "the new upload");
    assert_eq!(versions_of(1).await, 5);

    let moved = app::backend::vault::rotation::run_pending(&app.state).await.unwrap();
    assert_eq!(moved, 4, "four distinct blobs (two versions share one)");
    assert_eq!(versions_of(1).await, 0);
    let keys: Vec<(i64, String)> = sqlx::query("SELECT version, state FROM vault_data_keys ORDER BY version")
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(keys, [(2, "active".to_owned())], "the retired key is destroyed");
    let progress: (i64, i64, Option<i64>) = sqlx::query_as("SELECT total, done, finished_at FROM vault_rotations")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!((progress.0, progress.1), (4, 4));
    assert!(progress.2.is_some());
    let export_key: i64 = sqlx::query_scalar("SELECT key_version FROM data_exports WHERE id = $1")
        .bind(&export_id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(export_key, 2, "the ready export moved too");

    for (id, bytes) in &files[1..] {
        assert!(content(&app, &master, id, None).await.bytes().await.unwrap()[..] == bytes[..]);
    }
    assert!(content(&app, &master, &id0, None).await.bytes().await.unwrap()[..] == files[0].1[..], "restored version");
    assert_eq!(
        content(&app, &master, fresh["id"].as_str().unwrap(), None).await.bytes().await.unwrap().as_ref(),
        b"after"
    );
    let zip = api_client(&app)
        .get(app.url(&format!("/api/v1/exports/{export_id}/download")))
        .bearer_auth(&master)
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status(), StatusCode::OK);
    assert_eq!(&zip.bytes().await.unwrap()[..4], b"PK\x03\x04");
    // The old blobs are gone from disk: only one blob per live body remains.
    let tenant: String =
        sqlx::query_scalar("SELECT tenant_id FROM vault_objects LIMIT 1").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(walk(&app.settings.data_dir.join("vault").join(&tenant)), 4 + 1 + 1);
    let events: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events WHERE action LIKE 'vault.key_%' ORDER BY seq")
            .fetch_all(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(events, ["vault.key_rotate", "vault.key_rotated"]);
}
