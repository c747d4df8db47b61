//! Machines with client certificates: enrolment with a one-time token (a CSR in, a certificate of Rampart's
//! own making out), "machines only" keys over mutual TLS, revocation, renewal, and what a server behind a
//! TLS-terminating proxy refuses. CSRs are made with rcgen; machines speak through reqwest with a rustls
//! client identity; the README's commands run through the real `openssl` and `curl`.

mod enrol;
mod mtls;
mod readme;

use crate::common::{TestApp, PASSWORD};
use app::model::{FreshMachineToken, MachinesView};
use reqwest::{Client, Response, StatusCode};

/// An enrolment token made from the console by a stepped-up admin.
pub async fn token(app: &TestApp, admin: &Client, name: &str, range: &str, days: &str) -> String {
    app.call(admin, "step_up", &[("password", PASSWORD)]).await;
    let form = [("name", name), ("source_range", range), ("cert_days", days), ("valid_hours", "24")];
    let res = app.call(admin, "create_machine_token", &form).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let fresh: Option<FreshMachineToken> = app.call(admin, "take_fresh_machine_token", &[]).await.json().await.unwrap();
    let fresh = fresh.expect("the token is shown after creation");
    assert_eq!(fresh.name, name);
    fresh.token
}

/// A key pair and a CSR for it whose subject and SAN claim to be somebody else.
pub fn csr() -> (rcgen::KeyPair, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["admin.evil.example".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "root@other-tenant");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Some other tenant");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

pub async fn enrol(app: &TestApp, token: &str, csr: &str) -> Response {
    app.client()
        .post(app.url("/api/v1/machines/enrol"))
        .bearer_auth(token)
        .header("content-type", "application/pkcs10")
        .body(csr.to_owned())
        .send()
        .await
        .unwrap()
}

/// An enrolled machine: its id, key and certificate chain (leaf, then CA), and a client presenting them.
pub struct Machine {
    pub id: String,
    pub key_pem: String,
    pub chain: String,
    pub client: Client,
}

/// A client that presents `chain` (signed for `key_pem`) and trusts the test server.
pub fn client_with(app: &TestApp, key_pem: &str, chain: &str) -> Client {
    let identity = reqwest::Identity::from_pem(format!("{key_pem}{chain}").as_bytes()).unwrap();
    let pem = std::fs::read(app.settings.data_dir.join("tls/dev-cert.pem")).unwrap();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .identity(identity)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Enrols a machine named `name` with a fresh token of `admin`'s organisation.
pub async fn enrolled(app: &TestApp, admin: &Client, name: &str, days: &str) -> Machine {
    let token = token(app, admin, name, "", days).await;
    let (key, csr) = csr();
    let res = enrol(app, &token, &csr).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.headers()["rampart-machine-id"].to_str().unwrap().to_owned();
    let chain = res.text().await.unwrap();
    let key_pem = key.serialize_pem();
    let client = client_with(app, &key_pem, &chain);
    Machine { id, key_pem, chain, client }
}

pub async fn machines(app: &TestApp, admin: &Client) -> MachinesView {
    let res = app.call(admin, "get_machines", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// The tenant's events of `action`, newest first, as (actor, detail).
pub async fn events_of(app: &TestApp, action: &str) -> Vec<(String, String)> {
    app.state.api_log.flush().await;
    sqlx::query_as("SELECT actor, detail FROM audit_events WHERE action = $1 ORDER BY created_at DESC, seq DESC")
        .bind(action)
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
}
