//! The security posture on the overview: each figure checked against a seeded situation, visible to owners,
//! admins and auditors only, and the sign-in activity chart rendered as SVG with its figures — on SQLite or
//! PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::create_key;
use crate::common::{add_member, TestApp, PASSWORD};
use app::backend::platform::clock::{DAY_MS, MINUTE_MS};
use app::model::OverviewView;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_posture_counts_what_needs_fixing_and_the_chart_shows_sign_ins() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (owner, owner_email) = app.signed_in("Posture").await;
    add_member(&app, "Posture", "admin@posture.example", "admin").await;
    add_member(&app, "Posture", "member@posture.example", "member").await;
    add_member(&app, "Posture", "auditor@posture.example", "auditor").await;
    // The admin sets up an authenticator: 1 of 4 members.
    let (admin, _) = app.password_step("admin@posture.example").await;
    app.enroll(&admin).await;
    // Keys: one restricted to an IP and used, one open and never used, one canary (not counted).
    let (_, used) = create_key(&app, &owner, "read", &[("allowed_ips", "10.0.0.0/8")]).await;
    create_key(&app, &owner, "write", &[]).await;
    create_key(&app, &owner, "canary", &[]).await;
    let res = app
        .client()
        .get(app.url("/api/v1/members"))
        .bearer_auth(&used)
        .header("x-forwarded-for", "10.1.1.1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.state.api_log.flush().await;
    let fresh: OverviewView = app.call(&owner, "get_overview", &[]).await.json().await.unwrap();
    let p = fresh.posture.unwrap();
    assert_eq!((p.keys_older_than_90_days, p.keys_never_used, p.keys_without_ip_restriction), (0, 1, 1));

    // Ninety-one days on: both keys are old. A member signs in and leaves the browser open for 31 minutes.
    app.clock.advance_ms(91 * DAY_MS);
    let (member, _) = app.password_step("member@posture.example").await;
    assert_eq!(app.get(&member, "/overview").await.status(), StatusCode::OK);
    app.clock.advance_ms(31 * MINUTE_MS);
    for _ in 0..2 {
        let res = app
            .call(
                &app.client(),
                "sign_in",
                &[("email", "member@posture.example"), ("password", "not-the-right-password")],
            )
            .await;
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let owner = {
        let c = app.client();
        let res = app.call(&c, "sign_in", &[("email", owner_email.as_str()), ("password", PASSWORD)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        c
    };
    let o: OverviewView = app.call(&owner, "get_overview", &[]).await.json().await.unwrap();
    let p = o.posture.clone().unwrap();
    assert_eq!((p.members, p.members_with_two_factor, p.admins), (4, 1, 2));
    assert_eq!((p.keys_older_than_90_days, p.keys_never_used, p.keys_without_ip_restriction), (2, 1, 1));
    assert_eq!(p.stale_sessions, 1, "the member's idle session, not the owner's fresh one");
    assert_eq!(p.stale_after_minutes, 30);
    // The chart: 14 UTC days, the last 14 days' sign-ins (2 successes, 2 failures), older ones not.
    assert_eq!(o.sign_in_days.len(), 14);
    let ok: i64 = o.sign_in_days.iter().map(|d| d.successes).sum();
    let failed: i64 = o.sign_in_days.iter().map(|d| d.failures).sum();
    assert_eq!((ok, failed), (2, 2));
    assert!(o.sign_in_days.windows(2).all(|w| w[1].day - w[0].day == DAY_MS));

    // The page: each figure links to where it is fixed, and the chart is an accessible SVG with its figures.
    let html = app.get(&owner, "/overview").await.text().await.unwrap();
    assert!(html.contains("Security posture"));
    assert!(html.contains("25% (1/4)"), "two-factor share");
    assert!(html.contains("<svg") && html.contains("role=\"img\""), "an inline SVG chart");
    assert!(html.contains("2 successful and 2 failed sign-ins"), "the figures in words");
    assert!(html.contains("Sign-ins per day as a table"));
    assert_eq!(html.matches("<rect class=\"ok\"").count(), 14, "a bar pair a day");
    assert_eq!(html.matches("<rect class=\"failed\"").count(), 14);
    assert_eq!(html.matches("<tr><th scope=\"row\">").count(), 14, "a table row a day");
    let last = &o.sign_in_days[13];
    let date = &app::model::format_utc(last.day)[..10];
    assert!(
        html.contains(&format!("<title>{date}: {} successful</title>", last.successes)),
        "each bar names its day and figure"
    );
    for href in ["/keys?filter=old", "/keys?filter=unused", "/keys?filter=open", "/members", "/security"] {
        assert!(html.contains(&format!("href=\"{href}\"")), "{href}");
    }
    // The keys list, filtered the same way.
    for (filter, shown) in
        [("old", "older than 90 days (2)"), ("unused", "never used (1)"), ("open", "IP allow list (1)")]
    {
        let html = app.get(&owner, &format!("/keys?filter={filter}")).await.text().await.unwrap();
        assert!(html.contains(shown), "{filter}: {html}");
    }

    // Members see their own figures only; auditors see the posture.
    let (member, _) = app.password_step("member@posture.example").await;
    let o: OverviewView = app.call(&member, "get_overview", &[]).await.json().await.unwrap();
    assert!(o.posture.is_none() && o.sign_in_days.is_empty());
    assert!(!app.get(&member, "/overview").await.text().await.unwrap().contains("Security posture"));
    let (auditor, _) = app.password_step("auditor@posture.example").await;
    let o: OverviewView = app.call(&auditor, "get_overview", &[]).await.json().await.unwrap();
    assert!(o.posture.is_some());
}
