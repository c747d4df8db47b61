//! Enrolment: the token, the CSR, and the certificate Rampart makes of them.

use super::{csr, enrol, events_of, machines, token};
use crate::common::{TestApp, PASSWORD};
use reqwest::StatusCode;
use x509_parser::prelude::*;

fn pems(chain: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(chain.as_bytes()).map(|p| p.unwrap().contents).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_signs_a_certificate_of_rampart_s_own_making_and_spends_the_token() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    // No step-up (the sign-in's own is over after 10 minutes), no token.
    app.clock.advance_ms(11 * 60_000);
    let form = [("name", "build-01"), ("cert_days", "30"), ("valid_hours", "24")];
    assert_eq!(app.call(&owner, "create_machine_token", &form).await.status(), StatusCode::FORBIDDEN);
    let token = token(&app, &owner, "build-01", "", "30").await;
    // Shown once.
    let again: Option<app::model::FreshMachineToken> =
        app.call(&owner, "take_fresh_machine_token", &[]).await.json().await.unwrap();
    assert!(again.is_none(), "the token is shown once");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machine_tokens WHERE token_hash = $1 OR id = $1")
        .bind(&token)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "only the token's hash is kept");
    let view = machines(&app, &owner).await;
    assert_eq!(view.tokens.len(), 1);
    let ca_pem = view.ca_pem.clone().expect("the CA is made with the first token");

    let (key, request) = csr();
    let res = enrol(&app, &token, &request).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-type"], "application/pem-certificate-chain");
    let machine_id = res.headers()["rampart-machine-id"].to_str().unwrap().to_owned();
    let chain = res.text().await.unwrap();
    let ders = pems(&chain);
    assert_eq!(ders.len(), 2, "the certificate, then the CA");
    assert_eq!(pems(&ca_pem)[0], ders[1], "the CA is the organisation's, as the page offers it");
    let (_, leaf) = X509Certificate::from_der(&ders[0]).unwrap();
    let (_, ca) = X509Certificate::from_der(&ders[1]).unwrap();
    // The CSR's key, Rampart's names: nothing the CSR claimed.
    assert_eq!(leaf.public_key().raw, key.public_key_der().as_slice());
    let subject = leaf.subject().to_string();
    let tenant: String = sqlx::query_scalar("SELECT tenant_id FROM machines WHERE id = $1")
        .bind(&machine_id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(subject.contains("CN=build-01") && subject.contains(&format!("O={tenant}")), "{subject}");
    assert!(!subject.contains("root@other-tenant") && !subject.contains("Some other tenant"), "{subject}");
    let san = leaf.subject_alternative_name().unwrap().unwrap().value;
    let names: Vec<String> = san.general_names.iter().map(|n| n.to_string()).collect();
    assert_eq!(names, vec![format!("URI(urn:rampart:machine:{tenant}:{machine_id})")], "{names:?}");
    let eku = leaf.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth && !eku.code_signing && eku.other.is_empty());
    assert!(!leaf.is_ca());
    assert_eq!(leaf.issuer(), ca.subject());
    leaf.verify_signature(Some(ca.public_key())).expect("signed by the organisation's CA");
    let bc = ca.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca && bc.path_len_constraint == Some(0), "the CA signs end entities only");
    let days = (leaf.validity().not_after.timestamp() - leaf.validity().not_before.timestamp()) / 86_400;
    assert_eq!(days, 30, "valid for the days the token said");

    // The token is spent: the same token again enrols nothing.
    let (_, request) = csr();
    assert_eq!(enrol(&app, &token, &request).await.status(), StatusCode::UNAUTHORIZED);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(n, 1);
    let view = machines(&app, &owner).await;
    assert!(view.tokens.is_empty(), "no token waits any more");
    let m = &view.machines[0];
    assert_eq!((m.name.as_str(), m.id.as_str(), m.revoked_at), ("build-01", machine_id.as_str(), None));
    assert_eq!(m.last_seen_ip.as_deref(), Some("127.0.0.1"));
    let enrolled = events_of(&app, "machine.enrolled").await;
    assert_eq!(enrolled.len(), 1);
    assert_eq!(enrolled[0].0, "Machine “build-01”");
    let refused = events_of(&app, "machine.refused").await;
    assert!(refused[0].1.contains("the token is already used"), "{refused:?}");
    assert_eq!(events_of(&app, "machine.token_created").await.len(), 1);
    // The page shows it (and the token never).
    let html = app.get(&owner, "/settings/machines").await.text().await.unwrap();
    assert!(html.contains("build-01") && html.contains("127.0.0.1") && !html.contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_csr_spends_nothing_and_spent_revoked_expired_or_distant_tokens_enrol_nothing() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let good = token(&app, &owner, "good", "", "90").await;
    // Not a CSR; a CSR whose signature does not match its key; the wrong content type: refused, token kept.
    assert_eq!(enrol(&app, &good, "hello").await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, request) = csr();
    let mut der = x509_parser::pem::Pem::iter_from_buffer(request.as_bytes()).next().unwrap().unwrap().contents;
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let res = app
        .client()
        .post(app.url("/api/v1/machines/enrol"))
        .bearer_auth(&good)
        .header("content-type", "application/pkcs10")
        .body(der)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "a forged CSR");
    let res = app
        .client()
        .post(app.url("/api/v1/machines/enrol"))
        .bearer_auth(&good)
        .header("content-type", "application/json")
        .body(request.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = "A".repeat(200 * 1024);
    assert_eq!(enrol(&app, &good, &big).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(enrol(&app, &good, &request).await.status(), StatusCode::CREATED, "the token was still good");
    // No token, a made-up token.
    let res = app.client().post(app.url("/api/v1/machines/enrol")).body(request.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let made_up = "rmp_enrol_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    assert_eq!(enrol(&app, made_up, &request).await.status(), StatusCode::UNAUTHORIZED);
    // Revoked from the page.
    let revoked = token(&app, &owner, "revoked", "", "90").await;
    let view = machines(&app, &owner).await;
    let id = view.tokens.iter().find(|t| t.name == "revoked").unwrap().id.clone();
    let res = app.call(&owner, "revoke_machine_token", &[("token_id", id.as_str())]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_eq!(enrol(&app, &revoked, &request).await.status(), StatusCode::UNAUTHORIZED);
    // From outside the machine's source range (the tests come from 127.0.0.1).
    let distant = token(&app, &owner, "distant", "10.0.0.0/8", "90").await;
    assert_eq!(enrol(&app, &distant, &request).await.status(), StatusCode::UNAUTHORIZED);
    // Bad input to the token form: clear errors, nothing made.
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    for (field, form) in [
        ("cert_days", [("name", "x"), ("source_range", ""), ("cert_days", "29"), ("valid_hours", "1")]),
        ("cert_days", [("name", "x"), ("source_range", ""), ("cert_days", "91"), ("valid_hours", "1")]),
        ("valid_hours", [("name", "x"), ("source_range", ""), ("cert_days", "30"), ("valid_hours", "25")]),
        ("name", [("name", " "), ("source_range", ""), ("cert_days", "30"), ("valid_hours", "1")]),
        ("source_range", [("name", "x"), ("source_range", "10.0.0.0/33"), ("cert_days", "30"), ("valid_hours", "1")]),
    ] {
        let res = app.call(&owner, "create_machine_token", &form).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(res.text().await.unwrap().contains(field), "{field}");
    }
    assert_eq!(
        machines(&app, &owner).await.tokens.len(),
        1,
        "no token was made of bad input (only the distant one waits)"
    );
    // Expired: a token lives at most 24 hours.
    let late = token(&app, &owner, "late", "", "90").await;
    app.clock.advance_ms(24 * 3_600_000 + 1);
    assert_eq!(enrol(&app, &late, &request).await.status(), StatusCode::UNAUTHORIZED);
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM machines ORDER BY name").fetch_all(&app.state.pool).await.unwrap();
    assert_eq!(names, vec!["good"], "one machine, the good one");
    let refused: Vec<String> = events_of(&app, "machine.refused").await.into_iter().map(|(_, d)| d).collect();
    for why in ["revoked", "outside the machine's source range", "expired"] {
        assert!(refused.iter().any(|d| d.ends_with(why)), "{why}: {refused:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_enrolments_racing_with_one_token_make_one_machine() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let token = token(&app, &owner, "race", "", "30").await;
    let (_, a) = csr();
    let (_, b) = csr();
    let (ra, rb) = tokio::join!(enrol(&app, &token, &a), enrol(&app, &token, &b));
    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 401]);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM machines").fetch_one(&app.state.pool).await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_export_lists_the_machines_and_their_certificates_but_no_token() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    let m = super::enrolled(&app, &owner, "exported", "30").await;
    let waiting = token(&app, &owner, "waiting", "", "30").await;
    let tenant: String = sqlx::query_scalar("SELECT tenant_id FROM machines WHERE id = $1")
        .bind(&m.id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let documents = app::backend::export::records::documents(&app.state, &tenant).await.unwrap();
    let (_, bytes) = documents.iter().find(|(name, _)| *name == "machines.json").expect("machines.json");
    let doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(doc["machines"][0]["name"], "exported");
    let fingerprint = &machines(&app, &owner).await.machines[0].fingerprint;
    assert_eq!(doc["certificates"][0]["fingerprint"], fingerprint.as_str());
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains("waiting") && !text.contains(&waiting), "no enrolment token");
}
