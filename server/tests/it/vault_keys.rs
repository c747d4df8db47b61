//! The vault's keys and guards: the master key rotation as an operator runs it, a tenant key rotation in the
//! background, crypto-shredding at closure, and the virus-scan hook.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::keys::{api_client, create_key};
use crate::common::vault::{blob_count, body, content, pending_writes, put, read_blob, stored_blob, upload};
use crate::common::TestApp;
use app::backend::vault::cipher::CHUNK_SIZE;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row as _;

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
            v.push(read_blob(&app, &stored_blob(&app, id).await).await.unwrap());
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
        assert_eq!(&read_blob(&app, &stored_blob(&app, id).await).await.unwrap(), before, "file bodies untouched");
    }

    // A server started now (new master, old one kept aside) reads every file.
    let restarted = server::build_state(&app.settings, app.clock.clone()).await.unwrap();
    assert_eq!(restarted.keys.vault_wrap_key_id(), wrapped_after[0].1);
    let tenant: String =
        sqlx::query("SELECT tenant_id FROM vault_data_keys").fetch_one(&app.state.pool).await.unwrap().get(0);
    for (id, bytes) in &files {
        let d = app::backend::vault::read::open_version(&restarted, &tenant, id, None, false).await.unwrap();
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
    let leftover = read_blob(&app, &stored_blob(&app, &id).await).await.unwrap();
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
    let closed = app::backend::organisation::closure::delete::close_due(&app.state).await.unwrap();
    assert_eq!(closed.len(), 1);

    let keys: i64 = sqlx::query("SELECT COUNT(*) FROM vault_data_keys WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(keys, 0, "the tenant's data key is destroyed");
    assert_eq!(blob_count(&app, &tenant).await, 0, "blobs removed as well");
    assert!(!app.settings.data_dir.join("vault").join(&tenant).exists(), "no folder left either");
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
    assert_eq!(blob_count(&app, &tenant).await, 1, "no blob of the flagged file");
    assert_eq!(pending_writes(&app, &tenant).await, 0, "no partial write left");
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
    assert_eq!((blob_count(&app, &tenant).await, pending_writes(&app, &tenant).await), (1, 0));
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
    // The old blobs are gone from the store: only one blob per live body remains.
    let tenant: String =
        sqlx::query_scalar("SELECT tenant_id FROM vault_objects LIMIT 1").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(blob_count(&app, &tenant).await, 4 + 1 + 1);
    let events: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_events WHERE action LIKE 'vault.key_%' ORDER BY seq")
            .fetch_all(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(events, ["vault.key_rotate", "vault.key_rotated"]);
}

/// Finding 6 of the attack review: an upload that began under the old data key and commits after the rotation
/// destroyed it stores nothing and says so (a slow streaming body spans the whole rotation).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_cannot_destroy_the_key_of_an_upload_in_flight() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Racing").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let kept = upload(&app, &write, "race/kept.bin", body(10, 1)).await;
    let tenant = stored_blob(&app, kept["id"].as_str().unwrap()).await.tenant;
    let before = (blob_count(&app, &tenant).await, pending_writes(&app, &tenant).await);
    assert_eq!(before.1, 0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let request = api_client(&app)
        .put(app.url("/api/v1/vault/files?path=race/slow.bin"))
        .bearer_auth(&write)
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let in_flight = tokio::spawn(request);
    tx.send(Ok(body(CHUNK_SIZE + 100, 2))).await.unwrap();
    // The server is writing the blob (under data key version 1) when the rotation runs to its end.
    // (A write in progress: a `.part` file of the local store, an open multipart upload in the bucket.)
    for _ in 0..400 {
        if pending_writes(&app, &tenant).await > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(pending_writes(&app, &tenant).await, 1, "the upload started writing");
    app.call(&owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.call(&owner, "rotate_vault_key", &[]).await;
    assert!(res.status().is_success(), "{}", res.status());
    app::backend::vault::rotation::run_pending(&app.state).await.unwrap();
    tx.send(Ok(body(1000, 3))).await.unwrap();
    drop(tx);
    let res = in_flight.await.unwrap().unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT, "{}", res.text().await.unwrap());
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vault_objects WHERE path = 'race/slow.bin'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "nothing stored");
    assert_eq!((blob_count(&app, &tenant).await, pending_writes(&app, &tenant).await), before, "no blob left behind");
    // Every stored file is under a key that exists, and reads back.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM vault_versions v WHERE NOT EXISTS (SELECT 1 FROM vault_data_keys k \
         WHERE k.tenant_id = v.tenant_id AND k.version = v.key_version)",
    )
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
    let res = content(&app, &write, kept["id"].as_str().unwrap(), None).await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), body(10, 1));
}
