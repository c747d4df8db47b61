//! The encrypted vault over the REST API and the console's transfer routes: round trips at the chunk
//! boundaries and at 50 MB, tamper detection, key scopes and tenant isolation, versions and the bin, ephemeral
//! links, and multipart uploads with and without JavaScript. Keys, scanning and shredding: `vault_keys.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::keys::{api_client, create_key};
use crate::common::vault::{body, content, overwrite_blob, put, read_blob, stored_blob, upload};
use crate::common::TestApp;
use app::backend::vault::cipher::CHUNK_SIZE;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row as _;

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
        // In the store: ciphertext only (no 64-byte run of the plaintext), chunk tags included.
        let stored = read_blob(&app, &stored_blob(&app, &id).await).await.unwrap();
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
    let blob = stored_blob(&app, id).await;
    let mut stored = read_blob(&app, &blob).await.unwrap();
    stored[2 * CHUNK_SIZE + 100] ^= 0x01;
    overwrite_blob(&app, &blob, stored).await;
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
    let other_bytes = read_blob(&app, &stored_blob(&app, other["id"].as_str().unwrap()).await).await.unwrap();
    overwrite_blob(&app, &blob, other_bytes).await;
    let res = content(&app, &write, id, None).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "fails before any byte is sent");
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let text = res.text().await.unwrap();
    assert!(text.contains(&format!("ref {request_id}")), "the reference is the request's id: {request_id} {text}");
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

    let blob = stored_blob(&app, &id).await;
    c.delete(app.url(&format!("/api/v1/vault/files/{id}"))).bearer_auth(&write).send().await.unwrap();
    app.clock.advance_ms(29 * 86_400_000);
    assert_eq!(app::backend::vault::manage::purge_expired(&app.state).await.unwrap(), 0, "inside the window");
    app.clock.advance_ms(2 * 86_400_000);
    assert_eq!(app::backend::vault::manage::purge_expired(&app.state).await.unwrap(), 1);
    assert!(read_blob(&app, &blob).await.is_none(), "the ciphertext is gone too");
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
    // A link checker's HEAD uses nothing up.
    assert_eq!(anonymous.head(url(&once)).send().await.unwrap().status(), StatusCode::NO_CONTENT);
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

/// An uploaded HTML page comes back as an inert attachment on every route a file leaves by: REST content, the
/// console's download and an ephemeral link (findings 7 and 13 of the attack review).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_html_is_served_inert_on_every_route() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Initech").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let (_, read) = create_key(&app, &owner, "read", &[]).await;
    let res = api_client(&app)
        .put(app.url("/api/v1/vault/files?path=www/index.html"))
        .bearer_auth(&write)
        .header("content-type", "text/html; charset=utf-8")
        .body("<script>alert(document.cookie)</script>")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let file: Value = res.json().await.unwrap();
    let id = file["id"].as_str().unwrap();
    let rest = content(&app, &read, id, None).await;
    let console = app.get(&owner, &format!("/vault/files/{id}/download")).await;
    let link: Value = api_client(&app)
        .post(app.url(&format!("/api/v1/vault/files/{id}/links")))
        .bearer_auth(&read)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let linked = app.client().get(app.url(&format!("/vault/links/{token}"))).send().await.unwrap();
    for (what, res) in [("REST content", rest), ("console download", console), ("link", linked)] {
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        let h = res.headers();
        assert_eq!(h["content-type"], "application/octet-stream", "{what}: HTML is never served as HTML");
        common::vault::assert_download_headers(h, what);
    }
}

/// The blob store of this run (local files on SQLite, the S3 bucket on PostgreSQL) keeps its contract: nothing
/// is visible before commit, an aborted or abandoned write leaves no blob, names are checked (no client text
/// ever becomes a path or object key), deletes are idempotent and a tenant's deletion leaves the others alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blob_store_shows_whole_blobs_only_and_keeps_tenants_apart() {
    use tokio::io::AsyncReadExt as _;
    let app = TestApp::spawn().await;
    let store = app.state.vault.store.clone();
    let big = body(20 << 20, 4); // several upload parts
    let mut w = store.create("tenant-a", "blob-1").await.unwrap();
    for part in big.chunks(3 << 20) {
        w.write(part.to_vec()).await.unwrap();
    }
    assert!(store.open("tenant-a", "blob-1").await.is_err(), "invisible before commit");
    assert!(store.list("tenant-a").await.unwrap().is_empty());
    w.commit().await.unwrap();
    let mut back = Vec::new();
    store.open("tenant-a", "blob-1").await.unwrap().read_to_end(&mut back).await.unwrap();
    assert!(back == big, "read back whole");

    let mut aborted = store.create("tenant-a", "blob-2").await.unwrap();
    aborted.write(vec![7; 1000]).await.unwrap();
    aborted.abort().await;
    drop(store.create("tenant-a", "blob-3").await.unwrap()); // a request cancelled mid-write
    let other = stored("tenant-b", "blob-1", b"theirs", &app).await;
    assert_eq!(store.list("tenant-a").await.unwrap(), ["blob-1"]);
    assert_eq!(store.open("tenant-a", "blob-2").await.err().map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));

    for bad in ["../x", "a/b", "", "x", "..", "a b", "blob-1/../../tenant-b/blob-1"] {
        assert!(store.create("tenant-a", bad).await.is_err(), "{bad:?}");
        assert!(store.open(bad, "blob-1").await.is_err(), "{bad:?}");
        assert!(store.open("tenant-a", bad).await.is_err(), "{bad:?}");
        assert!(store.delete_tenant(bad).await.is_err(), "{bad:?}");
    }
    store.delete("tenant-a", "blob-1").await.unwrap();
    store.delete("tenant-a", "blob-1").await.unwrap();
    assert!(store.list("tenant-a").await.unwrap().is_empty());
    stored("tenant-a", "blob-4", b"mine", &app).await;
    stored("tenant-ab", "blob-5", b"a neighbour whose name starts the same", &app).await;
    store.delete_tenant("tenant-a").await.unwrap();
    assert!(store.list("tenant-a").await.unwrap().is_empty());
    assert_eq!(store.list("tenant-ab").await.unwrap(), ["blob-5"], "a prefix is a folder, not a string");
    assert_eq!(store.list("tenant-b").await.unwrap(), [other]);
}

async fn stored(tenant: &str, blob: &str, bytes: &[u8], app: &TestApp) -> String {
    let mut w = app.state.vault.store.create(tenant, blob).await.unwrap();
    w.write(bytes.to_vec()).await.unwrap();
    w.commit().await.unwrap();
    blob.to_owned()
}
