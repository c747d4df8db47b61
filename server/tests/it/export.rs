//! Data exports: the `export` feature and a step-up start one; the worker builds a ZIP holding every kind of
//! record, the access history with MACs that verify, and every vault version byte for byte, with a manifest
//! whose digests match and whose Ed25519 signature checks with the published key; only the requester downloads
//! it, for 24 hours; master keys do the same over the API; an export cut off by a restart is rebuilt — on SQLite
//! or PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::keys::{api_client, api_get, create_key};
use crate::common::vault::{read_blob, StoredBlob};
use crate::common::{add_member, TestApp, PASSWORD};
use app::backend::audit::chain::Link;
use app::backend::export::job::run_pending;
use app::model::{DataExportsView, ExportState};
use base64::Engine as _;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;

/// The entries of a stored ZIP as the `zip` crate reads them (it checks every CRC); names are unique.
fn read_zip(b: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(b)).expect("the zip crate reads the export");
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("the entry reads and its CRC checks");
        assert!(out.insert(entry.name().unwrap().into_owned(), data).is_none(), "names are unique");
    }
    out
}

/// Checks the manifest against every entry and its signature against the published key.
async fn verify_manifest(app: &TestApp, zip: &BTreeMap<String, Vec<u8>>) -> Value {
    let manifest_bytes = &zip["manifest.json"];
    let manifest: Value = serde_json::from_slice(manifest_bytes).unwrap();
    let listed: Vec<&Value> = manifest["entries"].as_array().unwrap().iter().collect();
    for e in &listed {
        let data = &zip[e["name"].as_str().unwrap()];
        assert_eq!(e["size"].as_u64().unwrap(), data.len() as u64, "{}", e["name"]);
        assert_eq!(e["sha256"].as_str().unwrap(), hex::encode(Sha256::digest(data)), "{}", e["name"]);
    }
    assert_eq!(listed.len() + 3, zip.len(), "every entry but the manifest, its signature and key is listed");
    let published = app.client().get(app.url("/.well-known/rampart-export-key")).send().await.unwrap();
    assert_eq!(published.status(), StatusCode::OK);
    let pem = published.text().await.unwrap();
    assert_eq!(pem.as_bytes(), zip["signing-key.pub"].as_slice(), "the archive carries the published key");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(der[12..].try_into().unwrap()).unwrap();
    let sig = base64::engine::general_purpose::STANDARD.decode(&zip["manifest.sig"]).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(sig.as_slice().try_into().unwrap());
    key.verify_strict(manifest_bytes, &sig).expect("the manifest's signature verifies");
    let mut forged = manifest_bytes.clone();
    forged[10] ^= 1;
    assert!(key.verify_strict(&forged, &sig).is_err());
    manifest
}

async fn tenant_id(app: &TestApp, name: &str) -> String {
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1").bind(name).fetch_one(&app.state.pool).await.unwrap()
}

async fn upload(app: &TestApp, key: &str, path: &str, body: Vec<u8>) -> String {
    let res = api_client(app)
        .put(app.url(&format!("/api/v1/vault/files?path={path}")))
        .bearer_auth(key)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// A vault with a big file (several encryption chunks), a file with two versions and one in the bin.
async fn fill_vault(app: &TestApp, owner: &Client) -> (String, BTreeMap<&'static str, Vec<u8>>) {
    let (_, write) = create_key(app, owner, "write", &[]).await;
    let big: Vec<u8> = (0..2_600_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let files = BTreeMap::from([
        ("vault/reports/q1.csv", b"quarter,revenue\nq1,200\n".to_vec()),
        ("vault-versions/reports/q1.csv/v1", b"quarter,revenue\nq1,100\n".to_vec()),
        ("vault/media/big.bin", big),
        ("vault-deleted/old/gone.txt", b"deleted but restorable".to_vec()),
    ]);
    upload(app, &write, "reports/q1.csv", files["vault-versions/reports/q1.csv/v1"].clone()).await;
    upload(app, &write, "reports/q1.csv", files["vault/reports/q1.csv"].clone()).await;
    upload(app, &write, "media/big.bin", files["vault/media/big.bin"].clone()).await;
    let gone = upload(app, &write, "old/gone.txt", files["vault-deleted/old/gone.txt"].clone()).await;
    let res = api_client(app).delete(app.url(&format!("/api/v1/vault/files/{gone}"))).bearer_auth(&write).send().await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
    (write, files)
}

async fn exports(app: &TestApp, client: &Client) -> DataExportsView {
    let res = app.call(client, "get_data_exports", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn actions(app: &TestApp, tenant: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT action FROM audit_events WHERE tenant_id = $1 AND action LIKE 'data_export.%' ORDER BY seq",
    )
    .bind(tenant)
    .fetch_all(&app.state.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_holds_everything_verifiably_and_only_its_requester_downloads_it() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Exporters").await;
    let tenant = tenant_id(&app, "Exporters").await;
    let (write_key, files) = fill_vault(&app, &owner).await;
    add_member(&app, "Exporters", "plain@exporters.example", "member").await;
    add_member(&app, "Exporters", "admin@exporters.example", "admin").await;
    let (member, _) = app.password_step("plain@exporters.example").await;
    let (admin, _) = app.password_step("admin@exporters.example").await;
    let (outsider, _) = app.signed_in("Elsewhere").await;
    let res = app.call(&owner, "invite_member", &[("email", "invitee@exporters.example"), ("role", "auditor")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "add_ip_block", &[("cidr", "192.0.2.7"), ("reason", "export test")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());

    // The feature, then a fresh step-up.
    assert_eq!(app.call(&member, "start_data_export", &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.call(&member, "get_data_exports", &[]).await.status(), StatusCode::FORBIDDEN);
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "start_data_export", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("StepUpRequired"));
    assert!(exports(&app, &owner).await.exports.is_empty(), "nothing started");
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    // One export at a time: while another instance builds one (a live heartbeat), a new one is refused.
    sqlx::query(
        "INSERT INTO data_exports (id, tenant_id, account_id, requested_by, state, worker, created_at, heartbeat_at) \
         VALUES ('busy-elsewhere', $1, 'someone', 'someone', 'running', 'elsewhere', 0, $2)",
    )
    .bind(&tenant)
    .bind({
        use app::backend::platform::clock::Clock as _;
        app.clock.now_ms()
    })
    .execute(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(app.call(&owner, "start_data_export", &[]).await.status(), StatusCode::CONFLICT);
    sqlx::query("DELETE FROM data_exports WHERE id = 'busy-elsewhere'").execute(&app.state.pool).await.unwrap();
    // The ways in and what guards them are the tenant's data too: an SSH key, a webhook endpoint (never its
    // secret), an empty vault folder.
    let ssh_dir = tempfile::tempdir().unwrap();
    let (_, ssh_public) = crate::sftp::keygen(ssh_dir.path(), "exporter").await;
    let res = app.call(&owner, "add_ssh_key", &[("public_key", &ssh_public)]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) VALUES ('hook-1', $1, 'https://93.184.216.34/exported-hook', 'x', \
         'all', 1, 'sealed-secret-canary', 'k', 0, 'owner')",
    )
    .bind(tenant.as_str())
    .execute(&app.state.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO vault_folders (tenant_id, folder, created_at, created_by) VALUES ($1, 'kept-empty/', 0, 'x')",
    )
    .bind(tenant.as_str())
    .execute(&app.state.pool)
    .await
    .unwrap();
    let res = app.call(&owner, "start_data_export", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    run_pending(&app.state).await.unwrap();
    let view = exports(&app, &owner).await;
    let export = view.exports.iter().find(|e| e.requested_by == owner_email).unwrap().clone();
    assert_eq!(export.state, ExportState::Ready, "{export:?}");
    assert!(export.mine && export.total_entries > 10 && export.done_entries == export.total_entries);
    let html = app.get(&owner, "/data-export").await.text().await.unwrap();
    assert!(html.contains(&format!("/data-export/{}/download", export.id)), "the page links the download");
    let mail = app.wait_for_mail(&owner_email, "data export is ready").await;
    assert!(mail.contains("/data-export"));

    // Nobody else downloads it.
    let path = format!("/data-export/{}/download", export.id);
    assert_eq!(app.get(&admin, &path).await.status(), StatusCode::NOT_FOUND, "another member, even an admin");
    assert_eq!(app.get(&outsider, &path).await.status(), StatusCode::NOT_FOUND, "another tenant");
    assert_eq!(app.get(&member, &path).await.status(), StatusCode::FORBIDDEN, "no export feature");
    assert_eq!(app.get(&app.client(), &path).await.status(), StatusCode::SEE_OTHER, "signed out");
    assert_eq!(api_get(&app, &write_key, &format!("/api/v1/exports/{}", export.id)).await.status(), 403);

    let res = app.get(&owner, &path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"rampart-export-"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-type"], "application/zip");
    common::vault::assert_download_headers(&h, "console export");
    let body = res.bytes().await.unwrap();
    assert_eq!(h["content-length"].to_str().unwrap(), body.len().to_string());
    assert_eq!(Some(body.len() as i64), export.size);
    let zip = read_zip(&body);
    let manifest = verify_manifest(&app, &zip).await;
    assert_eq!(manifest["tenant_id"], tenant.as_str());

    // Every kind of record, and no secret.
    for name in ["tenant.json", "members.json", "roles.json", "api-keys.json", "sessions.json", "invitations.json"] {
        assert!(zip.contains_key(name), "{name}");
    }
    let text = |n: &str| String::from_utf8(zip[n].clone()).unwrap();
    let key_body = ssh_public.split_whitespace().nth(1).unwrap();
    assert!(text("ssh.json").contains(key_body), "the member's SSH key");
    assert!(text("webhooks.json").contains("exported-hook") && !text("webhooks.json").contains("sealed-secret-canary"));
    assert!(text("vault-records.json").contains("kept-empty/"), "empty folders are kept");
    for setting in ["\"four_eyes\"", "\"ssh_key_policy\"", "\"support_allowed\""] {
        assert!(text("tenant.json").contains(setting), "{setting}");
    }
    for name in ["approvals.json", "support.json"] {
        assert!(zip.contains_key(name), "{name}");
    }
    assert!(text("members.json").contains("plain@exporters.example") && !text("members.json").contains("argon2"));
    assert!(text("roles.json").contains("\"member_grants\""));
    assert!(text("invitations.json").contains("invitee@exporters.example"));
    assert!(!text("invitations.json").contains("token"));
    assert!(text("ip-rules.json").contains("192.0.2.7"));
    let keys: Value = serde_json::from_slice(&zip["api-keys.json"]).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(!text("api-keys.json").contains("digest"), "no key digests");
    let sessions: Value = serde_json::from_slice(&zip["sessions.json"]).unwrap();
    assert!(sessions.as_array().unwrap().iter().any(|s| s["email"] == owner_email.as_str()));
    assert!(!text("sessions.json").contains("id_hash"));
    for (name, data) in &zip {
        let hay = String::from_utf8_lossy(data);
        assert!(!hay.contains(&write_key), "{name} holds a key secret");
    }

    // The access history, every MAC verified with the chain key.
    let mut seen = Vec::new();
    for line in text("access-history.jsonl").lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
        let key = app.state.keys.audit_chain_key_by_id(&s("mac_key"), &tenant).expect("a known chain key");
        let link = Link {
            chain: &tenant,
            seq: e["seq"].as_i64().unwrap(),
            id: &s("id"),
            created_at: e["created_at_ms"].as_i64().unwrap(),
            account_id: &s("account_id"),
            actor: &s("actor"),
            action: &s("action"),
            outcome: &s("outcome"),
            ip: &s("ip"),
            user_agent: &s("user_agent"),
            detail: &s("detail"),
            key_id: &s("key_id"),
            prev_mac: &s("prev_mac"),
        };
        assert_eq!(link.mac(&key), s("mac"), "event {}", s("id"));
        seen.push(s("action"));
    }
    assert!(seen.contains(&"data_export.start".to_owned()) && seen.contains(&"vault.upload".to_owned()));

    // Every vault version, byte for byte; the bin's file marked.
    for (name, content) in &files {
        assert_eq!(zip.get(*name).map(Vec::len), Some(content.len()), "{name}");
        assert!(zip[*name] == *content, "{name} is identical");
    }
    let index: Value = serde_json::from_slice(&zip["vault-index.json"]).unwrap();
    let gone = index["files"].as_array().unwrap().iter().find(|f| f["path"] == "old/gone.txt").unwrap();
    assert_eq!(gone["deleted"], true);
    assert!(gone["purge_at"].is_i64());

    let recorded = actions(&app, &tenant).await;
    for a in ["data_export.start", "data_export.ready", "data_export.download"] {
        assert!(recorded.contains(&a.to_owned()), "{a} in {recorded:?}");
    }

    // After 24 hours: refused at once, then deleted by the job.
    let blob: String = sqlx::query_scalar("SELECT blob FROM data_exports WHERE id = $1")
        .bind(&export.id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let stored_at = StoredBlob { tenant: tenant.clone(), blob };
    let stored = read_blob(&app, &stored_at).await.unwrap();
    assert!(stored.starts_with(b"RVLT"), "the archive is stored encrypted");
    assert!(!stored.windows(15).any(|w| w == b"quarter,revenue") && !stored.windows(4).any(|w| w == b"PK\x03\x04"));
    app.clock.advance_ms(24 * 3_600_000 + 1);
    let (owner, _) = app.password_step(&owner_email).await; // the old session has timed out
    assert_eq!(app.get(&owner, &path).await.status(), StatusCode::NOT_FOUND);
    run_pending(&app.state).await.unwrap();
    let view = exports(&app, &owner).await;
    assert_eq!(view.exports.iter().find(|e| e.id == export.id).unwrap().state, ExportState::Expired);
    let blob: Option<String> = sqlx::query_scalar("SELECT blob FROM data_exports WHERE id = $1")
        .bind(&export.id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(blob.is_none());
    assert!(read_blob(&app, &stored_at).await.is_none(), "the encrypted archive is deleted");
    assert!(actions(&app, &tenant).await.contains(&"data_export.expire".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_keys_export_over_the_api_and_only_the_asking_key_downloads() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Machines").await;
    let (_, files) = fill_vault(&app, &owner).await;
    let (_, master) = create_key(&app, &owner, "master", &[]).await;
    let (_, other_master) = create_key(&app, &owner, "master", &[]).await;
    let (_, read) = create_key(&app, &owner, "read", &[]).await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let post = |key: String| {
        let client = api_client(&app);
        let url = app.url("/api/v1/exports");
        async move { client.post(url).bearer_auth(key).send().await.unwrap() }
    };
    for k in [&read, &write] {
        assert_eq!(post(k.clone()).await.status(), StatusCode::FORBIDDEN, "only master keys export");
    }
    let res = post(master.clone()).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let started: Value = res.json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    run_pending(&app.state).await.unwrap();
    let status: Value = api_get(&app, &master, &format!("/api/v1/exports/{id}")).await.json().await.unwrap();
    assert_eq!(status["status"], "ready", "{status}");
    let url = status["download_url"].as_str().unwrap().to_owned();
    let other: Value = api_get(&app, &other_master, &format!("/api/v1/exports/{id}")).await.json().await.unwrap();
    assert!(other["download_url"].is_null());
    assert_eq!(api_get(&app, &other_master, &url).await.status(), StatusCode::NOT_FOUND, "another key");
    assert_eq!(api_get(&app, &read, &url).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get(&owner, &format!("/data-export/{id}/download")).await.status(), 404, "the key's owner");
    let res = api_get(&app, &master, &url).await;
    assert_eq!(res.status(), StatusCode::OK);
    common::vault::assert_download_headers(res.headers(), "REST export");
    let zip = read_zip(&res.bytes().await.unwrap());
    verify_manifest(&app, &zip).await;
    assert!(zip["vault/media/big.bin"] == files["vault/media/big.bin"]);
    let doc: Value = app.client().get(app.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for p in ["/api/v1/exports", "/api/v1/exports/{id}", "/api/v1/exports/{id}/download"] {
        assert!(doc["paths"][p].is_object(), "{p} is documented");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_resumes_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Restarts").await;
    let tenant = tenant_id(&app, "Restarts").await;
    let (_, files) = fill_vault(&app, &owner).await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "start_data_export", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    run_pending(&app.state).await.unwrap();
    let id = exports(&app, &owner).await.exports[0].id.clone();

    // As if the server stopped midway: the row still running, a partial blob named on it, a stale worker.
    let store = app.state.vault.store.clone();
    let old: String = sqlx::query_scalar("SELECT blob FROM data_exports WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    store.delete(&tenant, &old).await.unwrap();
    let partial = uuid::Uuid::new_v4().to_string();
    // A crash: the partial file the writer had open stays behind under its temporary name (an S3 upload
    // left open is never visible, and the bucket's lifecycle rule removes it).
    let part_dir = app.settings.data_dir.join("vault").join(&tenant).join(&partial[..2]);
    if crate::common::blob_store_name() == "local" {
        std::fs::create_dir_all(&part_dir).unwrap();
        std::fs::write(part_dir.join(format!(".{partial}.part")), b"RVLT half an archive").unwrap();
    }
    let now = {
        use app::backend::platform::clock::Clock as _;
        app.clock.now_ms()
    };
    sqlx::query(
        "UPDATE data_exports SET state = 'running', worker = 'gone', blob = $1, done_entries = 3, done_bytes = 5, \
         size = NULL, expires_at = NULL, finished_at = NULL, heartbeat_at = $2 WHERE id = $3",
    )
    .bind(&partial)
    .bind(now)
    .bind(&id)
    .execute(&app.state.pool)
    .await
    .unwrap();
    // On PostgreSQL the worker's instance lives on (holds its life lock) for now.
    let alive = app::backend::platform::job_lock::hold_instance(&app.state.pool, "gone").await.unwrap();
    app.running.take().unwrap().stop().await;

    // A new instance over the same database and data directory. On PostgreSQL, while the worker's instance
    // lives, its export is left alone; once it dies, the export is taken over at the next pass. On SQLite there
    // is one server per database file, so another worker is a dead one.
    let state = server::build_state(&app.settings, app.clock.clone()).await.unwrap();
    if common::backend_name() == "postgres" {
        assert_eq!(run_pending(&state).await.unwrap(), 0, "a live worker's export is left alone");
        drop(alive);
        let t = std::time::Instant::now();
        while run_pending(&state).await.unwrap() == 0 {
            assert!(t.elapsed() < std::time::Duration::from_secs(5), "a dead worker's export is taken over");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    } else {
        assert_eq!(run_pending(&state).await.unwrap(), 1, "taken over at once, without waiting for STALE_MS");
    }
    assert!(read_blob(&app, &StoredBlob { tenant: tenant.clone(), blob: partial.clone() }).await.is_none());
    assert!(!part_dir.join(format!(".{partial}.part")).exists(), "the partial file is removed");
    let row = sqlx::query_as::<_, (String, String, i64, i64)>(
        "SELECT state, blob, attempts, key_version FROM data_exports WHERE id = $1",
    )
    .bind(&id)
    .fetch_one(&state.pool)
    .await
    .unwrap();
    assert_eq!((row.0.as_str(), row.2), ("ready", 2));
    let key = {
        let mut conn = state.pool.acquire().await.unwrap();
        app::backend::vault::keys::by_version(&mut conn, &state.keys, &tenant, row.3).await.unwrap()
    };
    let mut body = app::backend::vault::read::plain_stream(&state, &tenant, &row.1, &key.key).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(piece) = futures_util::StreamExt::next(&mut body).await {
        bytes.extend_from_slice(&piece.unwrap());
    }
    let zip = read_zip(&bytes);
    for (name, content) in &files {
        assert!(zip[*name] == *content, "{name}");
    }
    // The published key of the new instance is the same key (same master): the manifest verifies.
    let manifest: Value = serde_json::from_slice(&zip["manifest.json"]).unwrap();
    assert_eq!(manifest["export_id"], id.as_str());
    let sig = base64::engine::general_purpose::STANDARD.decode(&zip["manifest.sig"]).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(sig.as_slice().try_into().unwrap());
    state.keys.export_signing_key().verifying_key().verify_strict(&zip["manifest.json"], &sig).unwrap();
}
