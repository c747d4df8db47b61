//! Vault helpers: uploads through the console's multipart route, as the page's script sends them (asking for
//! JSON) or as a browser without JavaScript posts the form (following the 303 is up to the test); and the REST
//! side (a key, a path, bytes), with where a file's ciphertext lies on disk.

use super::TestApp;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use sqlx::Row as _;

/// A multipart body: the text fields in order, then one `file` field per file.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = format!("rampart-test-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, content) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

impl TestApp {
    /// Posts the upload form: `fields` (folder, subfolder) then `files`; `json` as the page's script does.
    pub async fn upload_form(
        &self,
        client: &Client,
        fields: &[(&str, &str)],
        files: &[(&str, &[u8])],
        json: bool,
    ) -> Response {
        let (boundary, body) = multipart(fields, files);
        client
            .post(self.url("/vault/upload"))
            .header("origin", &self.base)
            .header("accept", if json { "application/json" } else { "text/html" })
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Uploads one file into `folder` asking for JSON.
    pub async fn upload(&self, client: &Client, folder: &str, name: &str, content: &[u8]) -> Response {
        self.upload_form(client, &[("folder", folder)], &[(name, content)], true).await
    }

    /// Uploads one file and returns what was stored.
    pub async fn uploaded(
        &self,
        client: &Client,
        folder: &str,
        name: &str,
        content: &[u8],
    ) -> app::model::VaultFileView {
        let res = self.upload(client, folder, name, content).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK, "upload of {name}");
        let mut files: Vec<app::model::VaultFileView> = res.json().await.unwrap();
        files.pop().unwrap()
    }
}

// REST helpers of the vault tests (a key, a path, bytes).

/// Bytes that look like nothing in particular, reproducible from a seed.
pub fn body(len: usize, seed: u64) -> Vec<u8> {
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

pub async fn put(app: &TestApp, key: &str, path: &str, bytes: Vec<u8>) -> reqwest::Response {
    super::keys::api_client(app)
        .put(app.url(&format!("/api/v1/vault/files?path={path}")))
        .bearer_auth(key)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

pub async fn upload(app: &TestApp, key: &str, path: &str, bytes: Vec<u8>) -> Value {
    let res = put(app, key, path, bytes).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    res.json().await.unwrap()
}

pub async fn content(app: &TestApp, key: &str, id: &str, version: Option<&str>) -> reqwest::Response {
    let q = version.map(|v| format!("?version={v}")).unwrap_or_default();
    super::keys::api_client(app)
        .get(app.url(&format!("/api/v1/vault/files/{id}/content{q}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// Where a file's current version is kept: its tenant and blob name in the blob store.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    pub tenant: String,
    pub blob: String,
}

/// The blob of a file's current version.
pub async fn stored_blob(app: &TestApp, id: &str) -> StoredBlob {
    let r = sqlx::query(
        "SELECT o.tenant_id, v.blob FROM vault_objects o JOIN vault_versions v ON v.id = o.current_version_id WHERE o.id = $1",
    )
    .bind(id)
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    StoredBlob { tenant: r.get(0), blob: r.get(1) }
}

/// A blob's bytes as the store holds them (ciphertext), or `None` when there is no such blob.
pub async fn read_blob(app: &TestApp, b: &StoredBlob) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut reader = match app.state.vault.store.open(&b.tenant, &b.blob).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        other => other.unwrap(),
    };
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap();
    Some(bytes)
}

/// Replaces a blob's bytes in the store (what an attacker with write access to the disk or bucket does).
pub async fn overwrite_blob(app: &TestApp, b: &StoredBlob, bytes: Vec<u8>) {
    let mut w = app.state.vault.store.create(&b.tenant, &b.blob).await.unwrap();
    w.write(bytes).await.unwrap();
    w.commit().await.unwrap();
}

/// How many committed blobs a tenant has in the store.
pub async fn blob_count(app: &TestApp, tenant: &str) -> usize {
    app.state.vault.store.list(tenant).await.unwrap().len()
}

/// Writes in progress (or left behind) for a tenant: `.part` files of the local store, incomplete multipart
/// uploads of the S3 bucket (asked of the S3 server itself).
pub async fn pending_writes(app: &TestApp, tenant: &str) -> usize {
    match app.settings.s3_endpoint.as_deref() {
        Some(endpoint) => {
            let url =
                format!("{endpoint}/{}?uploads&prefix={}/{tenant}/", app.settings.s3_bucket, app.settings.s3_prefix);
            let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
            xml.matches("<Upload>").count()
        }
        None => {
            let dir = app.settings.data_dir.join("vault").join(tenant);
            let shards: Vec<std::path::PathBuf> =
                std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            shards
                .iter()
                .flat_map(|shard| std::fs::read_dir(shard).into_iter().flatten().flatten())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
                .count()
        }
    }
}

/// What every download carries (finding 7 and 13 of the attack review): an attachment, never sniffed, in a
/// sandbox with nothing allowed, kept out of shared caches.
pub fn assert_download_headers(h: &reqwest::header::HeaderMap, what: &str) {
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox", "{what}: the sandbox CSP");
    assert_eq!(h["cache-control"], "private, no-store", "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment;"), "{what}");
}
