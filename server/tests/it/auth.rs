//! Setup links, password rules, sign-in and sign-out, sessions and their timeouts — on the database the run
//! was given (SQLite by default, PostgreSQL with RAMPART_TEST_POSTGRES_URL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{cookie_value, session_set_cookie, TestApp, PASSWORD};
use app::backend::platform::clock::{HOUR_MS, MINUTE_MS};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_is_long_single_use_and_sets_the_password() {
    let app = TestApp::spawn().await;
    let token = app.create_tenant("Acme", "founder@acme.example").await;
    assert!(token.len() >= 43, "a setup token carries at least 256 bits");

    let page = app.get(&app.client(), &format!("/setup/{token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("founder@acme.example") && html.contains("Acme"), "{html}");

    let client = app.client();
    let res = app.call(&client, "complete_setup", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("location").unwrap(), "/sign-in?setup=done");

    // Used once: the same link is now refused, in the API and on the page.
    let again =
        app.call(&client, "complete_setup", &[("token", &token), ("password", "another-long-passphrase-9")]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let page = app.get(&app.client(), &format!("/setup/{token}")).await.text().await.unwrap();
    assert!(page.contains("invalid, expired or already used"), "{page}");

    // The password from the first use is the one that works.
    let res = app.call(&app.client(), "sign_in", &[("email", "founder@acme.example"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_link_expires_after_24_hours() {
    let app = TestApp::spawn().await;
    let token = app.create_tenant("Late", "late@late.example").await;
    app.clock.advance_ms(24 * HOUR_MS);
    let res = app.call(&app.client(), "complete_setup", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let unknown = app.call(&app.client(), "complete_setup", &[("token", "nope"), ("password", PASSWORD)]).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_rules_follow_nist_and_say_why() {
    let app = TestApp::spawn().await;
    let attempt = |n: usize, pw: String| {
        let app = &app;
        async move {
            let token = app.create_tenant(&format!("Rules {n}"), &format!("p{n}@rules.example")).await;
            let res = app.call(&app.client(), "complete_setup", &[("token", &token), ("password", &pw)]).await;
            let status = res.status();
            (status, res.text().await.unwrap())
        }
    };
    let (s, body) = attempt(1, "tulip-orbit-9x".to_owned()).await; // 14 characters
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("at least 15 characters"), "{body}");

    let (s, _) = attempt(2, "tulip-orbit-9xq".to_owned()).await; // 15
    assert_eq!(s, StatusCode::OK);

    let long: String = "maple river quartz lantern ".repeat(6).chars().take(128).collect();
    let (s, _) = attempt(3, long).await;
    assert_eq!(s, StatusCode::OK);

    let (s, body) = attempt(4, "qwertasdfgzxcvb".to_owned()).await; // on the common-password list
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("common or breached"), "{body}");

    let (s, body) = attempt(5, "p5@rules.example and more".to_owned()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("email"), "{body}");

    // Unicode is allowed and counted in characters.
    let (s, _) = attempt(6, "žluťoučký kůň úpěl ódy".to_owned()).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = TestApp::spawn().await;
    let email = app.owner("Same").await;
    let wrong = app.call(&app.client(), "sign_in", &[("email", &email), ("password", "not-the-password-at-all")]).await;
    let unknown = app
        .call(&app.client(), "sign_in", &[("email", "ghost@same.example"), ("password", "not-the-password-at-all")])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.status(), unknown.status());
    assert!(session_set_cookie(&wrong).is_none() && session_set_cookie(&unknown).is_none());
    let (a, b) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(a, b);
    assert!(a.contains("The email or password is incorrect."), "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_has_every_flag_and_is_cycled_at_sign_in() {
    let app = TestApp::spawn().await;
    let email = app.owner("Cookies").await;
    let client = app.client();
    let first = app.call(&client, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    let line = session_set_cookie(&first).expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(flag), "{flag} missing in {line}");
    }
    assert!(!line.to_lowercase().contains("domain="), "__Host- cookies have no Domain: {line}");
    let old = cookie_value(&line);
    assert!(old.len() >= 22, "128-bit id");

    // Signing in again from a signed-in browser issues a new id, and the old one stops working.
    let second = app.call(&client, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    let new = cookie_value(&session_set_cookie(&second).expect("a new session cookie"));
    assert_ne!(old, new);
    let stale =
        app.client().get(app.url("/overview")).header("cookie", format!("__Host-rampart={old}")).send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(stale.headers().get("location").unwrap(), "/sign-in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_in_pages_render_and_sign_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let (client, email) = app.signed_in("Journey").await;
    let overview = app.get(&client, "/overview").await;
    assert_eq!(overview.status(), StatusCode::OK);
    assert_eq!(overview.headers().get("cache-control").unwrap(), "no-store");
    let html = overview.text().await.unwrap();
    assert!(html.contains("Journey") && html.contains(&email) && html.contains("Sign out"), "{html}");

    let history = app.get(&client, "/access-history").await.text().await.unwrap();
    assert!(history.contains("sign_in") && history.contains("password.set"), "{history}");

    let res = app.call(&client, "sign_out", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("clear-site-data").unwrap(), "\"cache\", \"storage\"");
    let expired: Vec<&str> = res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(expired.iter().any(|c| c.starts_with("__Host-rampart=;") && c.contains("Max-Age=0")), "{expired:?}");
    assert!(!expired.iter().any(|c| c.starts_with("__Host-rampart-device=")), "the device cookie stays: {expired:?}");
    let after = app.get(&client, "/overview").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    let me = app.call(&client, "get_me", &[]).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_cookie_replayed_after_sign_out_is_signed_out() {
    let app = TestApp::spawn().await;
    let email = app.owner("Replay").await;
    let client = app.client();
    let res = app.call(&client, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    let old = cookie_value(&session_set_cookie(&res).unwrap());
    app.call(&client, "sign_out", &[]).await;
    let replay = app
        .client()
        .post(app.url("/api/get_me"))
        .header("cookie", format!("__Host-rampart={old}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_ends_a_quiet_session_but_activity_keeps_it() {
    let app = TestApp::spawn().await;
    let (client, _) = app.signed_in("Idle").await;
    for _ in 0..3 {
        app.clock.advance_ms(50 * MINUTE_MS);
        assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK);
    }
    app.clock.advance_ms(60 * MINUTE_MS);
    let res = app.get(&client, "/overview").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.call(&client, "get_me", &[]).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_lifetime_ends_even_an_active_session() {
    let app = TestApp::spawn().await;
    let (client, _) = app.signed_in("Absolute").await;
    let mut elapsed = 0;
    while elapsed + 50 * MINUTE_MS < 12 * HOUR_MS {
        app.clock.advance_ms(50 * MINUTE_MS);
        elapsed += 50 * MINUTE_MS;
        assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK, "at {elapsed} ms");
    }
    app.clock.advance_ms(12 * HOUR_MS - elapsed);
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_failures_and_sign_outs_are_audited() {
    let app = TestApp::spawn().await;
    let email = app.owner("Audited").await;
    let bad = app.call(&app.client(), "sign_in", &[("email", &email), ("password", "wrong-wrong-wrong-1")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let client = app.client();
    app.call(&client, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    let events = app.events(&client).await;
    let has =
        |action: &str, outcome: &str| events.iter().any(|(a, o, who)| a == action && o == outcome && who == &email);
    assert!(has("setup_link.use", "success"), "{events:?}");
    assert!(has("password.set", "success"), "{events:?}");
    assert!(has("sign_in", "failure"), "{events:?}");
    assert!(has("sign_in", "success"), "{events:?}");
    // Nothing secret is recorded.
    let rows =
        sqlx::query("SELECT actor, detail, user_agent FROM audit_events").fetch_all(&app.state.pool).await.unwrap();
    use sqlx::Row as _;
    for r in rows {
        let text = format!("{}{}{}", r.get::<String, _>(0), r.get::<String, _>(1), r.get::<String, _>(2));
        assert!(!text.contains(PASSWORD) && !text.contains("wrong-wrong-wrong-1"), "{text}");
    }
    // An unknown email is recorded masked, outside any tenant.
    app.call(&app.client(), "sign_in", &[("email", "stranger@nowhere.example"), ("password", "x")]).await;
    let row = sqlx::query("SELECT actor FROM audit_events WHERE tenant_id IS NULL ORDER BY created_at DESC")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "s***@n***.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_work_without_javascript() {
    let app = TestApp::spawn().await;
    let token = app.create_tenant("NoJs", "nojs@nojs.example").await;
    let client = app.client();
    // An error goes back to the form page, which shows it.
    let res = app
        .post_html(&client, "complete_setup", &[("token", &token), ("password", "short")], &format!("/setup/{token}"))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers().get("location").unwrap().to_str().unwrap().to_owned();
    assert!(back.contains("__err="), "{back}");
    let page = client.get(&back).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("at least 15 characters"), "{page}");

    let res = app
        .post_html(&client, "complete_setup", &[("token", &token), ("password", PASSWORD)], &format!("/setup/{token}"))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers().get("location").unwrap(), "/sign-in?setup=done");

    let res =
        app.post_html(&client, "sign_in", &[("email", "nojs@nojs.example"), ("password", PASSWORD)], "/sign-in").await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers().get("location").unwrap(), "/overview");
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK);
}

fn token_after(mail: &str, marker: &str) -> String {
    mail.split(marker).nth(1).unwrap().chars().take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c)).collect()
}

/// A link that sets a password works only while nothing else set it since: a reset link sent before the
/// member changed their password (the mailbox may be why they did), and a setup link of an account that got
/// its password by accepting an invitation, no longer replace the password that was set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_sent_before_a_password_was_set_another_way_set_nothing() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Changed").await;
    let res = app.call(&app.client(), "request_password_reset", &[("email", &email)]).await;
    assert!(res.status().is_success(), "{}", res.status());
    let reset = token_after(&app.wait_for_mail(&email, "/reset-password/").await, "/reset-password/");
    let changed = "fresh-harbour-lantern-77";
    let form = [("current_password", PASSWORD), ("new_password", changed), ("sign_out_others", "on")];
    assert_eq!(app.call(&owner, "change_password", &form).await.status(), StatusCode::OK);
    let stolen = [("token", reset.as_str()), ("password", "attacker-chosen-words-12")];
    let res = app.call(&app.client(), "complete_password_reset", &stolen).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "the reset link died with the change");
    let res = app.call(&app.client(), "sign_in", &[("email", &email), ("password", changed)]).await;
    assert_eq!(res.status(), StatusCode::OK, "the changed password stands");

    // An account made with a setup link that got its password from an invitation instead.
    let newcomer = "newcomer@setup.example";
    let setup = app.create_tenant("Setup Later", newcomer).await;
    let res = app.call(&owner, "invite_member", &[("email", newcomer), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let invitation = token_after(&app.wait_for_mail(newcomer, "/invite/").await, "/invite/");
    let res = app.call(&app.client(), "accept_invitation", &[("token", &invitation), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let res =
        app.call(&app.client(), "complete_setup", &[("token", &setup), ("password", "attacker-chosen-words-12")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "the setup link died when the password was set");
    let res = app.call(&app.client(), "sign_in", &[("email", newcomer), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK, "the invitation's password stands");
}
