//! Sign-in throttling: the per-account and per-(account, IP) back-off, the suspension after 100 failures from
//! unknown devices that a known device does not feel, the same treatment for unknown emails, and the per-IP
//! global limit with its temporary automatic block of console and API, second-factor codes sent at once counted
//! as codes sent in turn — on SQLite or PostgreSQL, as the run was given. Client IPs come from
//! X-Forwarded-For: the test server trusts 127.0.0.1 as a proxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::{TestApp, PASSWORD};
use app::backend::identity::throttle::MAX_DELAY_MS;
use app::backend::network::ip_guard::{IP_BLOCK_MS, IP_FAILURE_LIMIT};
use reqwest::{Client, StatusCode};
use sqlx::Row as _;

const WRONG: &str = "not-the-password-at-all-42";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await
}

/// A sign-in attempt from `ip`: (status, body, Location).
async fn attempt(
    app: &TestApp,
    client: &Client,
    email: &str,
    password: &str,
    ip: &str,
) -> (StatusCode, String, String) {
    let res = client
        .post(app.url("/api/sign_in"))
        .header("origin", &app.base)
        .header("x-forwarded-for", ip)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, res.text().await.unwrap(), location)
}

/// How many failed sign-ins with each detail were recorded (for an account, or for unknown emails).
async fn failures(app: &TestApp, account_email: Option<&str>) -> std::collections::BTreeMap<String, i64> {
    let rows = match account_email {
        Some(email) => sqlx::query(
            "SELECT e.detail, COUNT(*) AS n FROM audit_events e JOIN accounts a ON a.id = e.account_id \
             WHERE a.email = $1 AND e.action = 'sign_in' AND e.outcome = 'failure' GROUP BY e.detail",
        )
        .bind(email)
        .fetch_all(&app.state.pool)
        .await
        .unwrap(),
        None => sqlx::query(
            "SELECT detail, COUNT(*) AS n FROM audit_events \
             WHERE account_id IS NULL AND action = 'sign_in' AND outcome = 'failure' GROUP BY detail",
        )
        .fetch_all(&app.state.pool)
        .await
        .unwrap(),
    };
    rows.iter().map(|r| (r.get::<String, _>("detail"), r.get::<i64, _>("n"))).collect()
}

fn device_cookie_of(set_cookies: &[String]) -> Option<String> {
    set_cookies.iter().find(|c| c.starts_with("__Host-rampart-device=")).cloned()
}

/// The scenario: a botnet guesses the owner's password, each guess from a new address (so no per-IP limit
/// applies). It is patient — before two guesses out of three it waits the longest back-off (15 minutes),
/// so those are never held back by the back-off — and fires every third guess at once, as a hammering client
/// does. 150 guesses take about a day of (manual) clock. Meanwhile the owner signs in from their laptop,
/// which carries the device cookie of an earlier sign-in, from a hotel's address the account never used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attack_reaches_the_password_check_at_most_100_times_and_the_real_user_still_signs_in() {
    let app = spawn().await;
    let email = app.owner("Target").await;

    // The laptop's first sign-in gives it the device cookie: random, Secure, HttpOnly, SameSite=Strict.
    let laptop = app.client();
    let res = laptop
        .post(app.url("/api/sign_in"))
        .header("origin", &app.base)
        .header("x-forwarded-for", "203.0.113.10")
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookies: Vec<String> =
        res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let device = device_cookie_of(&set_cookies).expect("a device cookie is set at a full sign-in");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(device.contains(attr), "{device}");
    }
    let value = device.split(';').next().unwrap().trim_start_matches("__Host-rampart-device=").to_owned();
    assert!(value.len() >= 43);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM known_devices WHERE token_hash = $1")
        .bind(&value)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "only a hash of the device cookie is stored");

    let mut first_body = None;
    for i in 0..150u32 {
        if i % 3 != 2 {
            app.clock.advance_ms(MAX_DELAY_MS);
        }
        let ip = format!("198.18.{}.{}", i / 200, i % 200 + 1);
        let (status, body, _) = attempt(&app, &app.client(), &email, &format!("{WRONG}-{i}"), &ip).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
        let first = first_body.get_or_insert_with(|| body.clone());
        assert_eq!(&body, first, "attempt {i}: every refusal looks the same");
        if i == 120 {
            // During the attack, the real user still signs in from the laptop, from a new address.
            let (status, _, location) = attempt(&app, &laptop, &email, PASSWORD, "192.0.2.77").await;
            assert_eq!(status, StatusCode::OK, "the known device is not locked out");
            assert_eq!(location, "/overview");
        }
    }
    let seen = failures(&app, Some(&email)).await;
    let wrong = seen.get("wrong password").copied().unwrap_or(0);
    let throttled = seen.get("throttled").copied().unwrap_or(0);
    let suspended = seen.get("suspended").copied().unwrap_or(0);
    assert_eq!(wrong + throttled + suspended, 150, "{seen:?}");
    assert!(wrong <= 100, "at most 100 guesses reach the password check: {seen:?}");
    assert!(throttled > 0 && suspended > 0, "{seen:?}");

    // The password is now suspended for unknown devices: the right password from a new browser is refused,
    // with the same answer.
    let (status, body, _) = attempt(&app, &app.client(), &email, PASSWORD, "192.0.2.200").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(Some(&body), first_body.as_ref());
    assert_eq!(failures(&app, Some(&email)).await.get("suspended").copied(), Some(suspended + 1));

    // After the attack the laptop still works.
    let (status, _, _) = attempt(&app, &laptop, &email, PASSWORD, "203.0.113.10").await;
    assert_eq!(status, StatusCode::OK);

    // A password reset by email lifts the suspension.
    let res = app.call(&app.client(), "request_password_reset", &[("email", &email)]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let mail = app.wait_for_mail(&email, "/reset-password/").await;
    let token: String = mail
        .split("/reset-password/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let new_password = "granite-pelican-orchard-58";
    let res =
        app.call(&app.client(), "complete_password_reset", &[("token", &token), ("password", new_password)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let (status, _, location) = attempt(&app, &app.client(), &email, new_password, "192.0.2.200").await;
    assert_eq!(status, StatusCode::OK, "a new device signs in after the reset");
    assert_eq!(location, "/overview");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_email_is_answered_and_throttled_exactly_like_a_known_one() {
    let app = spawn().await;
    let known = app.owner("Twins").await;
    let unknown = "nobody@twins.example";
    let mut answers: Vec<Vec<(StatusCode, String)>> = Vec::new();
    for email in [known.as_str(), unknown] {
        let mut seen = Vec::new();
        for i in 0..12 {
            let (status, body, _) = attempt(&app, &app.client(), email, &format!("{WRONG}-{i}"), "198.51.100.9").await;
            seen.push((status, body));
        }
        // One second later the back-off of the (email, IP) pair lets exactly one more guess through.
        app.clock.advance_ms(1_000);
        let (status, body, _) = attempt(&app, &app.client(), email, WRONG, "198.51.100.9").await;
        seen.push((status, body));
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "the same answers, in the same order");
    let k = failures(&app, Some(&known)).await;
    assert_eq!(k.get("wrong password"), Some(&6), "{k:?}");
    assert_eq!(k.get("throttled"), Some(&7), "{k:?}");
    let u = failures(&app, None).await;
    assert_eq!(u.get("unknown account"), Some(&6), "{u:?}");
    assert_eq!(u.get("unknown account, throttled"), Some(&7), "{u:?}");
    // The counters name no one: keyed by an HMAC of the email.
    let rows =
        sqlx::query("SELECT scope_key, email_hash FROM sign_in_throttle").fetch_all(&app.state.pool).await.unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        let (a, b): (String, String) = (r.get(0), r.get(1));
        assert!(!a.contains('@') && !b.contains('@') && !a.contains("twins") && !b.contains("twins"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_trips_the_global_limit_is_blocked_on_console_and_api_until_it_expires() {
    let app = spawn().await;
    let (owner, _) = app.signed_in("Spray").await;
    let sprayer = "198.51.100.66";
    let get = |path: &'static str, ip: &'static str| {
        let client = app.client();
        let url = app.url(path);
        async move { client.get(url).header("accept", "text/html").header("x-forwarded-for", ip).send().await.unwrap() }
    };
    // Password spraying: one guess for each of many emails, from one address.
    for i in 0..IP_FAILURE_LIMIT - 1 {
        let (status, _, _) = attempt(&app, &app.client(), &format!("user{i}@spray.example"), WRONG, sprayer).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(get("/sign-in", sprayer).await.status(), StatusCode::OK, "not blocked before the limit");
    let (status, _, _) = attempt(&app, &app.client(), "last@spray.example", WRONG, sprayer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the attempt that trips the limit is answered as usual");

    // Now the console and the REST API refuse the address, saying why.
    let page = get("/sign-in", sprayer).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().get("retry-after").is_some());
    assert!(page.text().await.unwrap().contains("Too many failed sign-ins came from your network address"));
    let api = app
        .client()
        .get(app.url("/api/v1/members"))
        .bearer_auth("rmp_read_whatever")
        .header("x-forwarded-for", sprayer)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ip_blocked");
    let (status, _, _) = attempt(&app, &app.client(), "owner@spray.example", PASSWORD, sprayer).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "even the right password from there waits");
    // Other addresses are not affected.
    assert_eq!(get("/sign-in", "198.51.100.67").await.status(), StatusCode::OK);
    assert_eq!(app.get(&owner, "/overview").await.status(), StatusCode::OK);

    // The block is audited once, without a tenant.
    let blocks: Vec<(Option<String>, String)> =
        sqlx::query("SELECT tenant_id, ip FROM audit_events WHERE action = 'ip.auto_block'")
            .fetch_all(&app.state.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(blocks, vec![(None, sprayer.to_owned())]);

    // It lifts by itself.
    app.clock.advance_ms(IP_BLOCK_MS);
    assert_eq!(get("/sign-in", sprayer).await.status(), StatusCode::OK);
    let api = app.client().get(app.url("/api/v1/members")).header("x-forwarded-for", sprayer).send().await.unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
}

/// Finding 5 of the attack review: step-up failures count in the sign-in budgets (back-off, the 20-failure
/// alert), a throttled step-up never reaches the password check (even the right password waits), and one
/// session cannot keep more than one password check in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn step_up_is_throttled_like_sign_in() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Oracle").await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(app.call(&owner, "step_up", &[("password", WRONG)]).await.status());
    }
    assert_eq!(statuses[0], StatusCode::UNPROCESSABLE_ENTITY);
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let right = app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "a throttled check does not tell a right password");
    app.wait_for_mail(&email, "20 consecutive failed").await;
    // The same budget holds a sign-in from the same place.
    let res = app.call(&app.client(), "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    assert!(res.status().is_client_error(), "sign-in shares the step-up's back-off: {}", res.status());
    app.clock.advance_ms(MAX_DELAY_MS + 1);
    assert_eq!(app.call(&owner, "step_up", &[("password", PASSWORD)]).await.status(), StatusCode::OK);

    // Many step-ups at once from one session: one password check at a time, the rest refused at once.
    let (thief, _) = app.signed_in("Parallel").await;
    let calls = (0..16).map(|_| app.call(&thief, "step_up", &[("password", WRONG)]));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(calls).await.iter().map(|r| r.status()).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert!(statuses.iter().all(|s| [StatusCode::UNPROCESSABLE_ENTITY, StatusCode::TOO_MANY_REQUESTS].contains(s)));
    assert!(checked < 16, "every request got its own password check: {statuses:?}");
}

/// Finding 9 of the attack review: reset requests are limited per client address, and a victim gets at most
/// one reset email per 15 minutes however many requests arrive, from however many addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_requests_are_throttled_and_fold_into_one_email() {
    use app::backend::identity::password_reset::{process_queue, EMAIL_EVERY_MS, IP_LIMIT};
    let app = spawn().await;
    let email = app.owner("Flooded").await;
    let ask = |ip: &'static str| {
        app.client()
            .post(app.url("/api/request_password_reset"))
            .header("origin", &app.base)
            .header("x-forwarded-for", ip)
            .form(&[("email", email.as_str())])
            .send()
    };
    for i in 0..IP_LIMIT {
        assert!(ask("192.0.2.1").await.unwrap().status().is_success(), "request {i}");
    }
    assert_eq!(ask("192.0.2.1").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    for ip in ["198.51.100.1", "198.51.100.2", "2001:db8::1"] {
        assert!(ask(ip).await.unwrap().status().is_success(), "{ip}");
    }
    process_queue(&app.state).await.unwrap();
    app.wait_for_mail(&email, "/reset-password/").await;
    let resets = || app.outbox().iter().filter(|m| common::unfold_qp(m).contains("/reset-password/")).count();
    assert_eq!(resets(), 1, "one email for every request of the window");
    app.clock.advance_ms(EMAIL_EVERY_MS);
    assert!(ask("198.51.100.3").await.unwrap().status().is_success());
    process_queue(&app.state).await.unwrap();
    // The request's own kick may be the one sending it: wait for the mail, not for this call.
    for _ in 0..200 {
        if resets() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(resets(), 2, "a new window, a new email");
    // An unknown address leaves nothing behind once handled.
    let res = app.call(&app.client(), "request_password_reset", &[("email", "nobody@flooded.example")]).await;
    assert!(res.status().is_success());
    process_queue(&app.state).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM password_reset_queue WHERE email <> ''")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "no address is kept once handled");
}

/// Twenty codes sent at once are checked one after another: five are counted wrong, the rest refused unread.
/// On PostgreSQL each attempt used to read the counters before any other had written them, and all twenty
/// were checked: four times the step's guesses for anyone holding the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_sent_at_once_are_throttled_like_codes_sent_in_turn() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Burst").await;
    let secret = app.enroll(&owner).await;
    let (client, _) = app.password_step(&email).await;
    let wrong = if app.code(&secret) == "000000" { "111111" } else { "000000" };
    let form = [("code", wrong)];
    let attempts = (0..20).map(|_| app.call(&client, "verify_second_factor", &form));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts).await.iter().map(|r| r.status()).collect();
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, throttled), (5, 15), "{statuses:?}");
    let failures: i64 = sqlx::query_scalar("SELECT mfa_consecutive_failures FROM accounts WHERE email = $1")
        .bind(email.as_str())
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(failures, 5, "only the checked codes count");
    let res = app.call(&client, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the step's guesses are spent, right or wrong");
}
