//! Vault helpers: uploads through the console's multipart route, as the page's script sends them.

use super::TestApp;
use reqwest::{Client, Response};

/// A multipart body with `folder` and one `file` field.
fn multipart(folder: &str, name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("rampart-test-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"folder\"\r\n\r\n{folder}\r\n").as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/plain\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

impl TestApp {
    /// Uploads one file into `folder` asking for JSON (as the page's script does).
    pub async fn upload(&self, client: &Client, folder: &str, name: &str, content: &[u8]) -> Response {
        let (boundary, body) = multipart(folder, name, content);
        client
            .post(self.url("/vault/upload"))
            .header("origin", &self.base)
            .header("accept", "application/json")
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap()
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
