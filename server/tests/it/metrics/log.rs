//! The real binary: one JSON request log line per request (id, method, route template, status, duration,
//! tenant when known) with no secret in it or in the scrape; and the refusal of a public metrics address.

use super::{scrape, Scrape};
use crate::common::{self, PASSWORD};
use common::process::free_port;
use common::rampart;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

/// The `answered` lines of one request id.
fn answered<'a>(log: &'a [Value], id: &str) -> Vec<&'a Value> {
    log.iter().filter(|v| v["fields"]["message"] == "answered" && v["span"]["id"] == id).collect()
}

fn id_of(res: &Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_logs_one_json_line_and_no_secret_reaches_log_or_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    assert!(rampart(dir.path(), &db).arg("migrate").status().unwrap().success());
    let create = ["tenant", "create", "--name", "Logged", "--owner", "owner@logged.example"];
    let out = String::from_utf8(rampart(dir.path(), &db).args(create).output().unwrap().stdout).unwrap();
    let tenant = out.split_once('(').and_then(|(_, r)| r.split_once(')')).map(|(id, _)| id.to_owned()).unwrap();
    let token = out.split("/setup/").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();

    // The metrics' port is found anew with each start the helper tries.
    let metrics_port = std::cell::Cell::new(0);
    let server = common::process::serve(|| {
        metrics_port.set(free_port());
        let mut cmd = rampart(dir.path(), &db);
        cmd.env("RAMPART_LOG", "info")
            .env("RAMPART_LOG_FORMAT", "json")
            .env("RAMPART_METRICS_ADDR", format!("127.0.0.1:{}", metrics_port.get()));
        cmd
    })
    .await
    .unwrap();
    let (base, metrics_port) = (server.base.clone(), metrics_port.get());
    // Told on the line after the start's.
    let told = format!("127.0.0.1:{metrics_port}");
    server.wait_for("the metrics address", |lines| lines.iter().any(|l| l.contains(&told))).await;

    let pem = std::fs::read(dir.path().join("data/tls/dev-cert.pem")).unwrap();
    let client = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = |path: &str| format!("{base}{path}");
    let call = |name: &str, form: Vec<(&'static str, String)>| {
        client.post(url(&format!("/api/{name}"))).header("origin", &base).form(&form).send()
    };
    let email = "owner@logged.example".to_owned();
    let wrong = "wrong-password-7c1d9e".to_owned();
    let query_secret = "q5ecret-9a8b7c";
    // (request id, status, expected route, expected tenant)
    let mut seen: Vec<(String, u16, &str, Option<&str>)> = Vec::new();
    let mut note = |res: &Response, route: &'static str, tenant: Option<&'static str>| {
        seen.push((id_of(res), res.status().as_u16(), route, tenant));
    };

    let res = client.get(url(&format!("/setup/{token}"))).header("accept", "text/html").send().await.unwrap();
    note(&res, "/setup/{token}", None);
    let res = call("complete_setup", vec![("token", token.clone()), ("password", PASSWORD.to_owned())]).await.unwrap();
    note(&res, "/api/complete_setup", None);
    let res = call("sign_in", vec![("email", email.clone()), ("password", wrong.clone())]).await.unwrap();
    note(&res, "/api/sign_in", None);
    let res = call("sign_in", vec![("email", email.clone()), ("password", PASSWORD.to_owned())]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = common::session_set_cookie(&res).map(|c| common::cookie_value(&c)).unwrap();
    note(&res, "/api/sign_in", None);
    let res = client.get(url("/overview")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    note(&res, "/overview", Some("tenant"));
    call("step_up", vec![("password", PASSWORD.to_owned())]).await.unwrap();
    let form = vec![("kind", "read".to_owned()), ("description", "logged".to_owned())];
    assert!(call("create_key", form).await.unwrap().status().is_success());
    let fresh: Value = call("take_fresh_key", vec![]).await.unwrap().json().await.unwrap();
    let key = fresh["secret"].as_str().unwrap().to_owned();
    let api = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let res = api.get(url(&format!("/api/v1/members?token={query_secret}"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    note(&res, "/api/v1/members", Some("tenant"));
    let forged = format!("{key}x");
    let res = api.get(url("/api/v1/members")).bearer_auth(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    note(&res, "/api/v1/members", None);
    let res = api.get(url("/vault/links/Zq8sW3cr3tL1nkT0k3n")).send().await.unwrap();
    note(&res, "/vault/links/{token}", None);
    let res = api.get(url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "not on the console's listener");
    note(&res, "/metrics", None);

    let metrics: Scrape = scrape(format!("127.0.0.1:{metrics_port}").parse().unwrap()).await;
    assert_eq!(metrics.get("rampart_sign_in_attempts_total", &[("outcome", "wrong_password")]), 1.0);
    assert_eq!(metrics.get("rampart_api_key_verifications_total", &[("outcome", "accepted")]), 1.0);

    let ids: Vec<String> = seen.iter().map(|s| s.0.clone()).collect();
    server
        .wait_for("every request's line", |lines| {
            let log: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
            ids.iter().all(|id| !answered(&log, id).is_empty())
        })
        .await;
    let lines = server.lines();
    let log: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    for (id, status, route, tenant_expected) in &seen {
        let found = answered(&log, id);
        assert_eq!(found.len(), 1, "one line per request: {found:?}");
        let line = found[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["route"], *route, "{line}");
        assert_eq!(line["fields"]["status"], *status, "{line}");
        assert!(line["fields"]["duration_ms"].as_f64().is_some_and(|d| d >= 0.0), "{line}");
        assert!(line["span"]["method"].is_string() && line["span"]["path"].is_string(), "{line}");
        match tenant_expected {
            Some(_) => assert_eq!(line["fields"]["tenant_id"], tenant.as_str(), "{line}"),
            None => assert!(line["fields"].get("tenant_id").is_none(), "{line}"),
        }
    }
    let setup_line = answered(&log, &seen[0].0)[0];
    assert_eq!(setup_line["span"]["path"], "/setup/…", "the link token is masked");

    let secrets = [
        ("password", PASSWORD),
        ("wrong password", wrong.as_str()),
        ("API key", key.as_str()),
        ("forged key", forged.as_str()),
        ("setup token", token.as_str()),
        ("session cookie", cookie.as_str()),
        ("query string", query_secret),
        ("vault link token", "Zq8sW3cr3tL1nkT0k3n"),
        ("email", email.as_str()),
    ];
    let json_lines: Vec<&String> = lines.iter().filter(|l| l.starts_with('{')).collect();
    assert!(json_lines.len() >= seen.len());
    for (what, secret) in secrets {
        assert!(!metrics.text.contains(secret), "{what} in the scrape");
        for line in &json_lines {
            assert!(!line.contains(secret), "{what} in a log line: {line}");
        }
    }
    assert!(!metrics.text.contains(&tenant), "no tenant id in the scrape");
}

/// A public metrics address is a configuration error (exit 2, one line naming the key) before anything
/// listens; `metrics_public = true` accepts it (checked with `migrate`, which listens nowhere).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_metrics_address_stops_the_binary_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    for addr in ["0.0.0.0:9464", "[::]:9464", "10.1.2.3:9464"] {
        let out = rampart(dir.path(), &db).env("RAMPART_METRICS_ADDR", addr).arg("serve").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{addr}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("metrics_addr") && err.contains("metrics_public"), "{err}");
        assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    }
    let out = rampart(dir.path(), &db)
        .env("RAMPART_METRICS_ADDR", "0.0.0.0:9464")
        .env("RAMPART_METRICS_PUBLIC", "true")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = rampart(dir.path(), &db).env("RAMPART_METRICS_ADDR", "nowhere").arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("metrics_addr"));
}
