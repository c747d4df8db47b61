//! Sensitive values never enter the access history or the logs, nor come back in an error: this test plants
//! recognisable secrets through every form and the REST API — passwords (right and wrong), an unknown email,
//! setup, reset and invitation tokens, the TOTP secret, recovery codes, API keys (right, wrong, malformed), a
//! session cookie and a secret typed into a wrong field — while capturing every log line the server writes at
//! debug level, then searches the events table, the log and every error body for each of them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::TestApp;
use reqwest::{Client, StatusCode};
use sqlx::Row as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the process logs, from the first line.
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let writer = move || Capture(sink.clone());
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(writer)
            .with_ansi(false)
            .init();
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Error bodies seen, with where they came from.
#[derive(Default)]
struct Bodies(Vec<(String, String)>);

impl Bodies {
    async fn call(&mut self, app: &TestApp, c: &Client, endpoint: &str, form: &[(&str, &str)]) -> StatusCode {
        let res = app.call(c, endpoint, form).await;
        self.keep(endpoint, res).await
    }

    async fn keep(&mut self, what: &str, res: reqwest::Response) -> StatusCode {
        let status = res.status();
        let body = res.text().await.unwrap();
        if status.as_u16() >= 400 {
            self.0.push((format!("{what} → {status}"), body));
        }
        status
    }
}

fn token_after(mail: &str, marker: &str) -> String {
    mail.split(marker)
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_stay_out_of_events_logs_and_error_bodies() {
    let log = log().clone();
    let app = TestApp::spawn_with(|s| s.log = "debug".to_owned()).await;
    let mut bodies = Bodies::default();
    let mut secrets: Vec<(&str, String)> = Vec::new();
    let anon = app.client();

    // Setup link and first password.
    let owner = "owner@planted.example";
    let setup = app.create_tenant("Planted", owner).await;
    let first = "plant-one-orchid-basalt-4417";
    secrets.push(("setup token", setup.clone()));
    secrets.push(("first password", first.to_owned()));
    bodies.call(&app, &anon, "get_setup_info", &[("token", &setup)]).await;
    assert!(bodies.call(&app, &anon, "complete_setup", &[("token", &setup), ("password", first)]).await.is_success());
    // The used link again, and a made-up one.
    bodies.call(&app, &anon, "complete_setup", &[("token", &setup), ("password", first)]).await;
    let forged = "plantforgedsetuptoken0000000000000000000000";
    secrets.push(("forged token", forged.to_owned()));
    bodies.keep("setup page", app.get(&anon, &format!("/setup/{forged}")).await).await;

    // Wrong password, unknown email, over-long input, then the right one.
    let wrong = "plant-wrong-quartz-ember-8812";
    secrets.push(("wrong password", wrong.to_owned()));
    bodies.call(&app, &app.client(), "sign_in", &[("email", owner), ("password", wrong)]).await;
    let stranger = "plant.unknown.person@secret-corp.example";
    secrets.push(("unknown email", stranger.to_owned()));
    secrets.push(("unknown email's local part", "plant.unknown.person".to_owned()));
    bodies.call(&app, &app.client(), "sign_in", &[("email", stranger), ("password", wrong)]).await;
    let c = app.client();
    assert!(bodies.call(&app, &c, "sign_in", &[("email", owner), ("password", first)]).await.is_success());

    // Step-up with a wrong then the right password; a password change.
    let wrong_step = "plant-stepup-wrong-lilac-5531";
    secrets.push(("wrong step-up password", wrong_step.to_owned()));
    bodies.call(&app, &c, "step_up", &[("password", wrong_step)]).await;
    assert!(bodies.call(&app, &c, "step_up", &[("password", first)]).await.is_success());
    let second = "plant-two-meadow-copper-3390";
    secrets.push(("second password", second.to_owned()));
    bodies.call(&app, &c, "change_password", &[("current_password", wrong), ("new_password", second)]).await;
    bodies.call(&app, &c, "change_password", &[("current_password", first), ("new_password", "short")]).await;
    assert!(bodies
        .call(&app, &c, "change_password", &[("current_password", first), ("new_password", second)])
        .await
        .is_success());

    // Two-factor: the TOTP secret and the recovery codes; a wrong recovery code at sign-in.
    let totp = app.enroll(&c).await;
    secrets.push(("TOTP secret", totp.replace(' ', "")));
    for code in app.fresh_recovery_codes(&c).await {
        secrets.push(("recovery code", code));
    }
    let half = app.client();
    assert!(bodies.call(&app, &half, "sign_in", &[("email", owner), ("password", second)]).await.is_success());
    let wrong_code = "plantrecovery-7781";
    secrets.push(("wrong recovery code", wrong_code.to_owned()));
    bodies.call(&app, &half, "verify_second_factor", &[("code", wrong_code)]).await;

    // Password reset by email: the link's token, a new password.
    bodies.call(&app, &anon, "request_password_reset", &[("email", owner)]).await;
    bodies.call(&app, &anon, "request_password_reset", &[("email", stranger)]).await;
    let reset = token_after(&app.wait_for_mail(owner, "/reset-password/").await, "/reset-password/");
    secrets.push(("reset token", reset.clone()));
    let third = "plant-three-harbor-violet-6024";
    secrets.push(("third password", third.to_owned()));
    bodies.call(&app, &anon, "complete_password_reset", &[("token", &reset), ("password", "short")]).await;
    assert!(bodies
        .call(&app, &anon, "complete_password_reset", &[("token", &reset), ("password", third)])
        .await
        .is_success());
    bodies.call(&app, &anon, "complete_password_reset", &[("token", &reset), ("password", third)]).await;

    // An invitation's token.
    let c = app.client();
    bodies.call(&app, &c, "sign_in", &[("email", owner), ("password", third)]).await;
    bodies.call(&app, &c, "verify_second_factor", &[("code", &app.code(&totp))]).await;
    app.next_step();
    assert!(bodies
        .call(&app, &c, "invite_member", &[("email", "new@planted.example"), ("role", "member")])
        .await
        .is_success());
    let invitation = token_after(&app.wait_for_mail("new@planted.example", "/invite/").await, "/invite/");
    secrets.push(("invitation token", invitation.clone()));
    bodies.call(&app, &anon, "accept_invitation", &[("token", &invitation), ("password", "short")]).await;

    // API keys: the secret, a wrong one of the right shape, a malformed one, a secret in a wrong field.
    bodies.call(&app, &c, "step_up", &[("password", third), ("code", &app.code(&totp))]).await;
    app.next_step();
    assert!(bodies.call(&app, &c, "create_key", &[("kind", "master"), ("description", "planted")]).await.is_success());
    let fresh: Option<app::model::FreshKeyView> = app.call(&c, "take_fresh_key", &[]).await.json().await.unwrap();
    let key = fresh.unwrap().secret;
    secrets.push(("API key", key.clone()));
    let mut flipped = key.clone().into_bytes();
    let i = flipped.len() - 10;
    flipped[i] = if flipped[i] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    secrets.push(("wrong API key", flipped.clone()));
    let malformed = "rmp_master_plantedbutnotakey";
    secrets.push(("malformed API key", malformed.to_owned()));
    let api = app.client();
    for k in [&key, &flipped, &malformed.to_owned()] {
        let res = api.get(app.url("/api/v1/members")).bearer_auth(k).send().await.unwrap();
        bodies.keep("GET /api/v1/members", res).await;
    }
    let misplaced = "plant-misplaced-secret-4471";
    secrets.push(("secret in a wrong field", misplaced.to_owned()));
    let res = api
        .post(app.url("/api/v1/keys"))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "kind": "read", "description": "x", "expires_in_days": misplaced }))
        .send()
        .await
        .unwrap();
    assert_eq!(bodies.keep("POST /api/v1/keys", res).await, StatusCode::UNPROCESSABLE_ENTITY);
    let res = api
        .post(app.url("/api/v1/keys"))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "kind": misplaced, "description": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bodies.keep("POST /api/v1/keys", res).await, StatusCode::UNPROCESSABLE_ENTITY);
    app.state.api_log.flush().await;

    // The vault: a file's content and an ephemeral link's token (used, then refused as used), and a forged one.
    let content = "plant-vault-content-8812-confidential";
    secrets.push(("vault file content", content.to_owned()));
    let res = api
        .put(app.url("/api/v1/vault/files?path=planted/contract.txt"))
        .bearer_auth(&key)
        .body(content)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let file: serde_json::Value = res.json().await.unwrap();
    let res = api
        .post(app.url(&format!("/api/v1/vault/files/{}/links", file["id"].as_str().unwrap())))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "single_use": true }))
        .send()
        .await
        .unwrap();
    let link: serde_json::Value = res.json().await.unwrap();
    let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    secrets.push(("vault link token", token.clone()));
    let forged_link = "plantedForgedVaultLinkToken0000000000000000";
    secrets.push(("forged vault link token", forged_link.to_owned()));
    for t in [&token, &token, &forged_link.to_owned()] {
        let res = api.get(app.url(&format!("/vault/links/{t}"))).send().await.unwrap();
        bodies.keep("GET /vault/links/…", res).await;
    }

    // A console upload cut off after its first field (whole as HTTP, not as a form): refused, and the log says
    // how much of how much arrived, never what.
    let cut_folder = "plant-cut-folder-7741";
    secrets.push(("folder of a cut upload", cut_folder.to_owned()));
    let boundary = "plantedboundary4410";
    let cut =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"folder\"\r\n\r\n{cut_folder}\r\n--{boundary}");
    let res = c
        .post(app.url("/vault/upload"))
        .header("origin", &app.base)
        .header("accept", "application/json")
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(cut.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bodies.keep("POST /vault/upload (cut)", res).await, StatusCode::UNPROCESSABLE_ENTITY);
    let logged = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let line =
        logged.lines().find(|l| l.contains("an upload's form could not be read")).expect("the cut upload is logged");
    let declared = cut.len();
    assert!(
        line.contains(&format!("received={declared}")) && line.contains(&format!("declared=Some({declared})")),
        "{line}"
    );

    // A session cookie.
    let res = app.call(&app.client(), "sign_in", &[("email", owner), ("password", third)]).await;
    let cookie = common::cookie_value(&common::session_set_cookie(&res).expect("a session cookie"));
    secrets.push(("session cookie", cookie));

    // Now search. Events: every text column of every row.
    let rows = sqlx::query(
        "SELECT actor, action, outcome, ip, user_agent, detail, COALESCE(key_id, '') AS key_id, \
         COALESCE(account_id, '') AS account_id FROM audit_events",
    )
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    assert!(rows.len() > 25, "the journey was recorded: {} events", rows.len());
    let events: Vec<String> = rows
        .iter()
        .map(|r| {
            ["actor", "action", "outcome", "ip", "user_agent", "detail", "key_id", "account_id"]
                .iter()
                .map(|c| r.try_get::<String, _>(*c).unwrap())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    assert!(events.iter().any(|e| e.contains("p***@s***.example")), "the unknown email is there, masked");
    let logged = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(logged.len() > 1000, "the log was captured ({} bytes)", logged.len());
    assert!(bodies.0.len() >= 12, "error bodies were collected: {}", bodies.0.len());
    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is long enough to search for");
        if let Some(e) = events.iter().find(|e| e.contains(secret.as_str())) {
            leaks.push(format!("{what} in an event: {e}"));
        }
        if logged.contains(secret.as_str()) {
            let line = logged.lines().find(|l| l.contains(secret.as_str())).unwrap_or("");
            leaks.push(format!("{what} in the log: {line}"));
        }
        for (from, body) in &bodies.0 {
            if body.contains(secret.as_str()) {
                leaks.push(format!("{what} in the error body of {from}: {body}"));
            }
        }
    }
    let _ = std::io::stderr().flush();
    assert!(leaks.is_empty(), "sensitive values leaked:\n{}", leaks.join("\n"));
}
