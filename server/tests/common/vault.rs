//! Vault helpers: uploads through the console's multipart route, as the page's script sends them (asking for
//! JSON) or as a browser without JavaScript posts the form (following the 303 is up to the test).

use super::TestApp;
use reqwest::{Client, Response};

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
