//! Security alerts by email to the member and the tenant's security contact: exactly at the 20th consecutive
//! failed sign-in, a correct password with a wrong second factor, a sign-in from a new device (not the first),
//! a TOTP replay — at most one email per recipient per 15 minutes, the rest as one digest when the window
//! ends — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{unfold_qp, TestApp, PASSWORD};
use app::backend::alerts::{self, ALERT_WINDOW_MS};
use reqwest::{Client, StatusCode};

const CONTACT: &str = "soc@alerts.example";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await
}

async fn set_contact(app: &TestApp, tenant: &str) {
    sqlx::query("UPDATE tenants SET security_contact = $1 WHERE name = $2")
        .bind(CONTACT)
        .bind(tenant)
        .execute(&app.state.pool)
        .await
        .unwrap();
}

async fn sign_in_from(app: &TestApp, client: &Client, email: &str, password: &str, ip: &str, ua: &str) -> StatusCode {
    client
        .post(app.url("/api/sign_in"))
        .header("origin", &app.base)
        .header("x-forwarded-for", ip)
        .header("user-agent", ua)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
        .status()
}

async fn verify_from(app: &TestApp, client: &Client, code: &str, ip: &str, ua: &str) -> StatusCode {
    client
        .post(app.url("/api/verify_second_factor"))
        .header("origin", &app.base)
        .header("x-forwarded-for", ip)
        .header("user-agent", ua)
        .form(&[("code", code)])
        .send()
        .await
        .unwrap()
        .status()
}

/// Alerts queued so far (delivered or not) of one kind.
async fn queued(app: &TestApp, kind: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pending_alerts WHERE kind = $1")
        .bind(kind)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

/// Messages to `to` whose text contains `needle`.
fn mails(app: &TestApp, to: &str, needle: &str) -> Vec<String> {
    app.outbox()
        .iter()
        .map(|m| unfold_qp(m))
        .filter(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_twentieth_consecutive_failure_alerts_the_member_and_the_contact_not_the_nineteenth() {
    let app = spawn().await;
    let email = app.owner("Alerts").await;
    set_contact(&app, "Alerts").await;
    for i in 0..19 {
        app.clock.advance_ms(60_000);
        let ip = format!("198.51.100.{}", i + 1);
        let status = sign_in_from(&app, &app.client(), &email, "wrong-guess-123456", &ip, "guesser/1.0").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(queued(&app, "sign_in.failures").await, 0, "nothing after 19 failures");
    alerts::deliver_due(&app.state).await.unwrap();
    assert!(mails(&app, &email, "consecutive failed sign-ins").is_empty());

    // The user agent is the attacker's to write, and the alert is a genuine Rampart email: a link in it must not
    // become one in the member's mail client.
    let bait = "guesser/2.0 ACCOUNT LOCKED: restore it at https://rampart-restore.example/r within 24h";
    let status = sign_in_from(&app, &app.client(), &email, "wrong-guess-123456", "198.51.100.20", bait).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for to in [email.as_str(), CONTACT] {
        let mail = app.wait_for_mail(to, "20 consecutive failed sign-ins").await;
        assert!(mail.contains("Alerts"), "names the tenant");
        for needle in [
            "198.51.100.1,",
            "198.51.100.20",
            "guesser/1.0",
            "guesser/2.0",
            "UTC",
            "hxxps[://]rampart-restore[.]example",
        ] {
            assert!(mail.contains(needle), "lists IPs, times and agents ({needle}): {mail}");
        }
        assert!(!mail.contains("wrong-guess-123456"), "never the attempted password");
        assert!(!mail.contains("https://rampart-restore") && !mail.contains("rampart-restore.example"), "{mail}");
    }
    // Exactly at the 20th: the 21st raises nothing new.
    sign_in_from(&app, &app.client(), &email, "wrong-guess-123456", "198.51.100.21", "guesser/2.0").await;
    assert_eq!(queued(&app, "sign_in.failures").await, 2, "one alert, to member and contact");

    // A success ends the streak; 20 new failures alert again.
    app.clock.advance_ms(ALERT_WINDOW_MS);
    assert_eq!(sign_in_from(&app, &app.client(), &email, PASSWORD, "203.0.113.1", "me").await, StatusCode::OK);
    for _ in 0..20 {
        sign_in_from(&app, &app.client(), &email, "wrong-guess-123456", "203.0.113.1", "me").await;
    }
    assert_eq!(queued(&app, "sign_in.failures").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_password_with_a_wrong_code_alerts_the_member_and_the_contact() {
    let app = spawn().await;
    let (client, email) = app.signed_in("Alerts").await;
    set_contact(&app, "Alerts").await;
    app.enroll(&client).await;
    let (second, location) = app.password_step(&email).await;
    assert_eq!(location, "/sign-in/two-factor");
    let res = app.call(&second, "verify_second_factor", &[("code", "000000")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for to in [email.as_str(), CONTACT] {
        let mail = app.wait_for_mail(to, "correct password, wrong second factor").await;
        assert!(mail.contains("Alerts") && mail.contains("127.0.0.1"), "{mail}");
        assert!(!mail.contains("000000"), "never the code");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_within_the_window_arrive_as_one_digest_to_member_and_contact() {
    let app = spawn().await;
    let (owner, email) = app.signed_in("Digest").await;
    set_contact(&app, "Digest").await;
    assert_eq!(queued(&app, "sign_in.new_device").await, 0, "no alert for the very first sign-in");
    let secret = app.enroll(&owner).await;

    // A sign-in from a new device (new browser, new address): alerted at once, the window opens.
    let phone = app.client();
    assert_eq!(sign_in_from(&app, &phone, &email, PASSWORD, "198.51.100.7", "NewPhone/1.0").await, StatusCode::OK);
    let res = verify_from(&app, &phone, &app.code(&secret), "198.51.100.7", "NewPhone/1.0").await;
    assert_eq!(res, StatusCode::OK);
    for to in [email.as_str(), CONTACT] {
        let mail = app.wait_for_mail(to, "sign-in from a new device").await;
        assert!(mail.contains("198.51.100.7") && mail.contains("NewPhone/1.0"), "{mail}");
    }
    // The same device again, from yet another address, is not new.
    assert_eq!(sign_in_from(&app, &phone, &email, PASSWORD, "198.51.100.8", "NewPhone/1.0").await, StatusCode::OK);
    app.next_step();
    let res = verify_from(&app, &phone, &app.code(&secret), "198.51.100.8", "NewPhone/1.0").await;
    assert_eq!(res, StatusCode::OK);
    assert_eq!(queued(&app, "sign_in.new_device").await, 2, "one alert, to member and contact");

    // Within the window: a wrong second factor and a replayed code are queued, not sent.
    let (guess, _) = app.password_step(&email).await;
    app.call(&guess, "verify_second_factor", &[("code", "000000")]).await;
    app.next_step();
    let code = app.code(&secret);
    let (first, _) = app.password_step(&email).await;
    assert_eq!(app.call(&first, "verify_second_factor", &[("code", &code)]).await.status(), StatusCode::OK);
    let (replay, _) = app.password_step(&email).await;
    app.call(&replay, "verify_second_factor", &[("code", &code)]).await;
    assert_eq!(queued(&app, "sign_in.second_factor").await, 2);
    assert_eq!(queued(&app, "two_factor.replay").await, 2);
    assert_eq!(alerts::deliver_due(&app.state).await.unwrap(), 0, "the window is still open");
    assert!(mails(&app, &email, "wrong second factor").is_empty());

    // When the window ends, one digest per recipient holds both.
    app.clock.advance_ms(ALERT_WINDOW_MS);
    alerts::deliver_due(&app.state).await.unwrap();
    for to in [email.as_str(), CONTACT] {
        app.wait_for_mail(to, "Security alerts for Digest: 2 events").await;
        let digest = mails(&app, to, "Security alerts for Digest: 2 events");
        assert_eq!(digest.len(), 1, "one digest to {to}");
        assert!(digest[0].contains("wrong second factor") && digest[0].contains("used twice"), "{}", digest[0]);
        assert!(!digest[0].contains(&code), "never the code");
        assert!(digest[0].contains("access history ends at event #"), "the digest carries the chain's head");
        assert_eq!(mails(&app, to, "Security alert").len(), 2, "the new-device alert and the digest, nothing else");
    }
    assert_eq!(alerts::deliver_due(&app.state).await.unwrap(), 0, "nothing is sent twice");
}
