//! The README's enrolment commands are the console's (`app::model::ENROL_COMMANDS`), and they work: run by
//! `sh` with the real `openssl` and `curl` against the server, they enrol a machine and make a first call with
//! a machines-only key.

use crate::common::keys::create_key;
use crate::common::TestApp;

/// The first `sh` block of the README's machines section, without its list indentation.
fn readme_commands() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("## Machines with client certificates").expect("the README has the section")..];
    let start = section.find("```sh\n").unwrap() + "```sh\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end]
        .lines()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_s_openssl_and_curl_lines_enrol_a_machine_that_then_calls_the_api() {
    assert_eq!(readme_commands(), app::model::ENROL_COMMANDS, "the README shows what the console shows");
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Acme").await;
    let token = super::token(&app, &owner, "readme-machine", "", "30").await;
    let (_, key) = create_key(&app, &owner, "read", &[("machines_only", "on")]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-e")
        .arg("-c")
        .arg(readme_commands())
        .current_dir(dir.path())
        .env("RAMPART_URL", &app.base)
        .env("ENROL_TOKEN", &token)
        .env("RAMPART_KEY", &key)
        .env("CURL_CA_BUNDLE", app.settings.data_dir.join("tls/dev-cert.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&email), "the machines-only key answered through the machine: {stdout}");
    let pem = std::fs::read_to_string(dir.path().join("machine.pem")).unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "the certificate and the CA");
    let view = super::machines(&app, &owner).await;
    assert_eq!(view.machines.len(), 1);
    assert_eq!(view.machines[0].name, "readme-machine");
    // The same machine over TLS 1.2 (the handshake's signature is checked there too), and over HTTP/2.
    for version in [["--tls-max", "1.2"], ["--http2", "--tlsv1.3"]] {
        let out = std::process::Command::new("curl")
            .args(["--silent", "--output", "/dev/null", "--write-out", "%{http_code} %{http_version}"])
            .args(version)
            .args(["--cert", "machine.pem", "--key", "machine.key", "-H"])
            .arg(format!("Authorization: Bearer {key}"))
            .arg(format!("{}/api/v1/members", app.base))
            .current_dir(dir.path())
            .env("CURL_CA_BUNDLE", app.settings.data_dir.join("tls/dev-cert.pem"))
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(answer.starts_with("200 "), "{version:?}: {answer}");
        if version[0] == "--http2" {
            assert_eq!(answer, "200 2", "HTTP/2 carries the certificate too");
        }
    }
    // The same key with curl but without the certificate: refused.
    let out = std::process::Command::new("curl")
        .args(["--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {key}"))
        .arg(format!("{}/api/v1/members", app.base))
        .env("CURL_CA_BUNDLE", app.settings.data_dir.join("tls/dev-cert.pem"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machines_page_shows_a_new_token_once_with_the_commands_that_use_it() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    app.call(&owner, "step_up", &[("password", crate::common::PASSWORD)]).await;
    // Without JavaScript: the form posts, the browser follows the redirect to the page.
    let form = [("name", "page-machine"), ("source_range", ""), ("cert_days", "45"), ("valid_hours", "2")];
    let res = app.post_html(&owner, "create_machine_token", &form, "/settings/machines").await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let html = app.get(&owner, "/settings/machines?created=1").await.text().await.unwrap();
    let start = html.find("rmp_enrol_").expect("the token is shown");
    let token: String = html[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    assert_eq!(token.len(), "rmp_enrol_".len() + 40);
    assert!(html.contains("export RAMPART_URL=") && html.contains("/api/v1/machines/enrol"));
    let again = app.get(&owner, "/settings/machines").await.text().await.unwrap();
    assert!(!again.contains(&token), "shown once");
    assert!(again.contains("page-machine"), "the waiting token is listed");
}
