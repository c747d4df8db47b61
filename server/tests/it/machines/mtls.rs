//! Machines over mutual TLS: "machines only" keys, certificates of other tenants or of nobody, revocation on
//! the next request, renewal, expiry, and browsers unaffected.

use super::{client_with, csr, enrolled, events_of, machines, Machine};
use crate::common::keys::{api_get, create_key};
use crate::common::TestApp;
use app::backend::platform::clock::DAY_MS;
use reqwest::{Client, StatusCode};

async fn get(app: &TestApp, client: &Client, key: &str, path: &str) -> StatusCode {
    client.get(app.url(path)).bearer_auth(key).send().await.unwrap().status()
}

/// Renews over `client`'s connection with a CSR for a new key; returns the key (PEM) and the answer.
async fn renew_with(app: &TestApp, client: &Client) -> (String, reqwest::Response) {
    let (key, request) = csr();
    let res = client
        .post(app.url("/api/v1/machines/renew"))
        .header("content-type", "application/pkcs10")
        .body(request)
        .send()
        .await
        .unwrap();
    (key.serialize_pem(), res)
}

async fn renew(app: &TestApp, m: &Machine) -> reqwest::Response {
    renew_with(app, &m.client).await.1
}

/// A new browser signed in as `email` (the clock moved past the last session's life).
async fn sign_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    let res = app.call(&client, "sign_in", &[("email", email), ("password", crate::common::PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    client
}

/// The latest `machine.refused` event's detail.
async fn last_refusal(app: &TestApp) -> String {
    events_of(app, "machine.refused").await.into_iter().next().map(|(_, d)| d).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machines_only_key_works_only_from_an_active_machine_of_its_own_tenant() {
    let app = TestApp::spawn().await;
    let (a_owner, _) = app.signed_in("Acme").await;
    let (b_owner, _) = app.signed_in("Bravo").await;
    let a = enrolled(&app, &a_owner, "a-build", "30").await;
    let b = enrolled(&app, &b_owner, "b-build", "30").await;
    let (key_id, key) = create_key(&app, &a_owner, "read", &[("machines_only", "on")]).await;
    let (_, plain) = create_key(&app, &a_owner, "read", &[]).await;
    let detail: app::model::KeyDetailView =
        app.call(&a_owner, "get_key", &[("key_id", key_id.as_str())]).await.json().await.unwrap();
    assert!(detail.key.machines_only);

    // No certificate.
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_required"));
    // Its own tenant's machine.
    assert_eq!(get(&app, &a.client, &key, "/api/v1/members").await, StatusCode::OK);
    // Another tenant's machine, with the machines-only key and with a plain key alike.
    assert_eq!(get(&app, &b.client, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_other_tenant"));
    assert_eq!(get(&app, &b.client, &plain, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    // A certificate nobody issued (self-signed for the same key as A's machine's: possession is not enough).
    let key_pair = rcgen::KeyPair::from_pem(&a.key_pem).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["a-build".to_owned()]).unwrap();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let forged = params.self_signed(&key_pair).unwrap().pem();
    let stranger = client_with(&app, &a.key_pem, &forged);
    assert_eq!(get(&app, &stranger, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_unknown"));
    // A plain key still works without a certificate, and with its own tenant's machine.
    assert_eq!(api_get(&app, &plain, "/api/v1/members").await.status(), StatusCode::OK);
    assert_eq!(get(&app, &a.client, &plain, "/api/v1/members").await, StatusCode::OK);

    // Revoked: refused from the very next request; a browser route does not care.
    let res = app.call(&b_owner, "revoke_machine", &[("machine_id", a.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "another tenant's admin cannot revoke A's machine");
    assert_eq!(get(&app, &a.client, &key, "/api/v1/members").await, StatusCode::OK);
    let res = app.call(&a_owner, "revoke_machine", &[("machine_id", a.id.as_str())]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_eq!(get(&app, &a.client, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_revoked"));
    assert_eq!(get(&app, &a.client, &plain, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    let page = a.client.get(app.url("/sign-in")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the console ignores client certificates");
    assert_eq!(app.get(&app.client(), "/sign-in").await.status(), StatusCode::OK);
    // Recorded: the revocation by the owner; the machine list says so.
    let revoked = events_of(&app, "machine.revoked").await;
    assert!(revoked[0].0.contains("owner@acme.example") && revoked[0].1.contains("a-build"), "{revoked:?}");
    let view = machines(&app, &a_owner).await;
    assert!(view.machines[0].revoked_at.is_some());
    // And the keys page tells which keys are machines-only.
    let html = app.get(&a_owner, &format!("/keys/{key_id}")).await.text().await.unwrap();
    assert!(html.contains("only from an enrolled machine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_renews_over_mtls_and_ended_or_replaced_certificates_are_refused() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Acme").await;
    let m = enrolled(&app, &owner, "agent", "30").await;
    let (_, key) = create_key(&app, &owner, "read", &[("machines_only", "on")]).await;
    // Without a certificate, no renewal.
    assert_eq!(renew_with(&app, &app.client()).await.1.status(), StatusCode::UNAUTHORIZED);
    // Twenty days in: due (less than a third of 30 days left), on the machines page and the posture card.
    assert!(!machines(&app, &owner).await.machines[0].renewal_due);
    app.clock.advance_ms(21 * DAY_MS);
    let owner = sign_in(&app, &email).await;
    assert!(machines(&app, &owner).await.machines[0].renewal_due);
    let overview: app::model::OverviewView = app.call(&owner, "get_overview", &[]).await.json().await.unwrap();
    assert_eq!(overview.posture.unwrap().machines_due_for_renewal, 1);
    let (first_key, res) = renew_with(&app, &m.client).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["rampart-machine-id"].to_str().unwrap(), m.id);
    let chain = res.text().await.unwrap();
    assert_ne!(chain, m.chain);
    let first = client_with(&app, &first_key, &chain);
    assert_eq!(get(&app, &first, &key, "/api/v1/members").await, StatusCode::OK);
    // Again from the replaced certificate (its answer lost, or a copy of the old key and certificate): the new
    // one is the machine's only successor, the one issued before it ends at once — never two lines that each
    // renew on their own.
    let (renewed_key, res) = renew_with(&app, &m.client).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let fresh = client_with(&app, &renewed_key, &res.text().await.unwrap());
    assert_eq!(get(&app, &fresh, &key, "/api/v1/members").await, StatusCode::OK);
    assert_eq!(get(&app, &first, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED, "the branch ends");
    assert_eq!(renew_with(&app, &first).await.1.status(), StatusCode::UNAUTHORIZED, "and renews nothing");
    let renewed = events_of(&app, "machine.renewed").await;
    assert!(renewed.iter().any(|(_, d)| d.contains("1 other certificate(s) of the machine ended")), "{renewed:?}");
    let overview: app::model::OverviewView = app.call(&owner, "get_overview", &[]).await.json().await.unwrap();
    assert_eq!(overview.posture.unwrap().machines_due_for_renewal, 0);
    assert!(!machines(&app, &owner).await.machines[0].renewal_due);
    assert_eq!(events_of(&app, "machine.renewed").await.len(), 2);
    // The replaced certificate works for a day, then not.
    assert_eq!(get(&app, &m.client, &key, "/api/v1/members").await, StatusCode::OK);
    app.clock.advance_ms(DAY_MS);
    assert_eq!(get(&app, &m.client, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_replaced"));
    assert_eq!(renew(&app, &m).await.status(), StatusCode::UNAUTHORIZED, "nor does it renew");
    assert_eq!(get(&app, &fresh, &key, "/api/v1/members").await, StatusCode::OK);
    // Past its end the new certificate is refused, and renews nothing.
    app.clock.advance_ms(30 * DAY_MS);
    assert_eq!(get(&app, &fresh, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_expired"));
    assert_eq!(renew_with(&app, &fresh).await.1.status(), StatusCode::UNAUTHORIZED);
    // A revoked machine renews nothing either.
    let owner = sign_in(&app, &email).await;
    let other = enrolled(&app, &owner, "other", "90").await;
    let res = app.call(&owner, "revoke_machine", &[("machine_id", other.id.as_str())]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_eq!(renew(&app, &other).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_outside_its_source_range_is_refused() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    // Enrolled from 127.0.0.1 (in range), then the range is moved away (as a database writer would).
    let token = super::token(&app, &owner, "ranged", "127.0.0.0/8", "30").await;
    let (k, request) = csr();
    let res = super::enrol(&app, &token, &request).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let client = client_with(&app, &k.serialize_pem(), &res.text().await.unwrap());
    let (_, key) = create_key(&app, &owner, "read", &[("machines_only", "on")]).await;
    assert_eq!(get(&app, &client, &key, "/api/v1/members").await, StatusCode::OK);
    sqlx::query("UPDATE machines SET source_range = '192.0.2.0/24'").execute(&app.state.pool).await.unwrap();
    assert_eq!(get(&app, &client, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&app).await.contains("machine_outside_range"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_nothing_pretends_to_check_machines() {
    use crate::common::{cookie_value, session_set_cookie, PASSWORD};
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Acme").await;
    let (_, master) = create_key(&app, &owner, "master", &[]).await;
    // A second instance of the same organisation, behind a TLS-terminating proxy (plain HTTP).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut proxied = app.settings.clone();
    proxied.behind_proxy = true;
    proxied.listen_addr = format!("127.0.0.1:{port}").parse().unwrap();
    proxied.public_url = format!("http://127.0.0.1:{port}");
    proxied.sftp_addr = None;
    let behind = server::start(&proxied, app.clock.clone()).await.expect("starts: no machines-only key yet");
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A master key cannot make a machines-only key there.
    let res = plain
        .post(url("/api/v1/keys"))
        .bearer_auth(&master)
        .json(&serde_json::json!({"kind": "read", "description": "m", "machines_only": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("TLS-terminating proxy"));
    // Nor can the owner in the console, nor make an enrolment token.
    let res = plain
        .post(url("/api/sign_in"))
        .header("origin", url(""))
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = format!("__Host-rampart={}", cookie_value(&session_set_cookie(&res).expect("signed in")));
    let call = |endpoint: &str, form: Vec<(&'static str, &'static str)>| {
        plain
            .post(url(&format!("/api/{endpoint}")))
            .header("origin", url(""))
            .header("cookie", &cookie)
            .form(&form)
            .send()
    };
    call("step_up", vec![("password", PASSWORD)]).await.unwrap();
    let res = call("create_key", vec![("kind", "read"), ("description", "m"), ("machines_only", "on")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res =
        call("create_machine_token", vec![("name", "x"), ("cert_days", "30"), ("valid_hours", "1")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let view: app::model::MachinesView = call("get_machines", vec![]).await.unwrap().json().await.unwrap();
    assert!(!view.client_certs);
    behind.stop().await;
    // A machines-only key made while the server served TLS itself: moved behind a proxy, it refuses to start.
    let (id, _) = create_key(&app, &owner, "read", &[("machines_only", "on")]).await;
    let err = match server::start(&proxied, app.clock.clone()).await {
        Ok(_) => panic!("a server behind a proxy started with a machines-only key"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("machines only"), "{err}");
    // Once the key is revoked, it starts.
    let res = app.call(&owner, "revoke_key", &[("key_id", id.as_str())]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    server::start(&proxied, app.clock.clone()).await.expect("starts").stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_revoked_on_one_instance_is_refused_by_the_other_at_its_next_request() {
    let app = TestApp::spawn().await;
    let other = app.beside().await;
    let (owner, _) = app.signed_in("Acme").await;
    let m = enrolled(&app, &owner, "twin", "30").await;
    let (_, key) = create_key(&app, &owner, "read", &[("machines_only", "on")]).await;
    // The second instance has verified the key and seen the machine (its key cache is warm).
    let via_other = client_with(&other, &m.key_pem, &m.chain);
    assert_eq!(get(&other, &via_other, &key, "/api/v1/members").await, StatusCode::OK);
    let res = app.call(&owner, "revoke_machine", &[("machine_id", m.id.as_str())]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    // No clock moves, no cache expiry: the machine's status is read on every request.
    assert_eq!(get(&other, &via_other, &key, "/api/v1/members").await, StatusCode::UNAUTHORIZED);
    assert!(last_refusal(&other).await.contains("machine_revoked"));
}

/// Enrolment and renewal carry no API key, yet they mint certificates in the tenant's name: the tenant's IP
/// block list holds them as it holds every keyed request (403, recorded), and only from a blocked network.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_block_list_holds_enrolment_and_renewal_too() {
    // Behind a trusted proxy on loopback, so a request names the client it came from.
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (owner, _) = app.signed_in("Acme").await;
    let m = enrolled(&app, &owner, "agent", "30").await;
    let pending = super::token(&app, &owner, "spare", "", "30").await;
    let res = app.call(&owner, "add_ip_block", &[("cidr", "203.0.113.0/24"), ("reason", "suspect network")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    let (_, request) = csr();
    let from = |client: &Client, path: &str, ip: &str| {
        client
            .post(app.url(path))
            .header("content-type", "application/pkcs10")
            .header("x-forwarded-for", ip)
            .body(request.clone())
    };
    let res = from(&m.client, "/api/v1/machines/renew", "203.0.113.9").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "renewal from a blocked network");
    assert!(last_refusal(&app).await.contains("renewal refused (ip_blocked"), "{}", last_refusal(&app).await);
    let res = from(&app.client(), "/api/v1/machines/enrol", "203.0.113.9").bearer_auth(&pending).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "enrolment from a blocked network");
    assert!(last_refusal(&app).await.contains("enrolment refused (ip_blocked"));
    // Elsewhere, both go through: the token was not spent by the refusal.
    let res = from(&m.client, "/api/v1/machines/renew", "198.51.100.7").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = from(&app.client(), "/api/v1/machines/enrol", "198.51.100.7").bearer_auth(&pending).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
}
