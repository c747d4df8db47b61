//! Support access only with the organisation's consent: a request is nothing until an owner approves it
//! (step-up, ≤ 72 h and what was asked, the vault and the exports only when ticked and allowed); the one-time
//! link gives a read-only session — every write and every server function outside `SUPPORT_READS` refused,
//! the vault and exports closed unless included, a banner on every page, each page viewed recorded — that ends
//! at once when an owner revokes it, when its time is up, or when the organisation withdraws consent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{self, TestApp, PASSWORD};
use app::model::ConsentView;
use app::policy::{support_read, SERVER_FUNCTIONS};
use reqwest::{Client, StatusCode};

fn ok(res: &reqwest::Response) -> bool {
    res.status().is_success() || res.status().is_redirection()
}

async fn consent(app: &TestApp, owner: &Client) -> ConsentView {
    let res = app.call(owner, "get_consent", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// An approved request's one-time link, opened by eight fresh browsers at once (a link unfurler racing the
/// operator): exactly one gets the support session, the others a 404.
async fn open(app: &TestApp, id: &str) -> Client {
    let token = app::backend::support::session::open_link(&app.state, id).await.unwrap();
    let url = app.url(&format!("/support/{token}"));
    // A link checker's HEAD opens nothing and spends nothing.
    let head = app.client().head(&url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::NO_CONTENT);
    assert!(head.headers().get("set-cookie").is_none(), "no session for a HEAD");
    let browsers: Vec<Client> = (0..8).map(|_| app.client()).collect();
    let tries = browsers.iter().map(|b| b.get(&url).send());
    let answers = futures_util::future::join_all(tries).await;
    let mut opened = None;
    for (browser, res) in browsers.iter().zip(answers) {
        let res = res.unwrap();
        match res.status() {
            StatusCode::SEE_OTHER => {
                assert!(opened.is_none(), "a second browser got in through a one-time link");
                assert_eq!(res.headers().get("location").unwrap(), "/overview");
                opened = Some(browser.clone());
            }
            other => assert_eq!(other, StatusCode::NOT_FOUND, "{}", res.text().await.unwrap()),
        }
    }
    let again = app.client().get(&url).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "a link works once");
    opened.expect("one browser got in")
}

async fn history(app: &TestApp, action: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT actor, detail FROM audit_events WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_sees_only_after_an_owner_approves_reads_only_and_ends_when_revoked() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    app.uploaded(&owner, "", "secret-plan.txt", b"the plan").await;
    let id = app::backend::support::request(&app.state, "Acme", "Sam Support", "ticket 42: keys page is slow", 4)
        .await
        .unwrap();
    let told: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_alerts WHERE kind = 'support_requested'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(told, 1, "the owner is told");
    // Nothing before an owner approves: no link, and a made-up link is refused.
    assert!(app::backend::support::session::open_link(&app.state, &id).await.is_err());
    let res = app.client().get(app.url("/support/not-a-real-token")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let v = consent(&app, &owner).await;
    assert_eq!((v.requests.len(), v.requests[0].state.as_str()), (1, "pending"));

    // Only an owner of this organisation approves, stepped up, within what was asked and what consent allows.
    common::add_member(&app, "Acme", "admin@acme.example", "admin").await;
    let (admin, _) = app.password_step("admin@acme.example").await;
    assert!(ok(&app.call(&admin, "step_up", &[("password", PASSWORD)]).await));
    let approve = |hours: &'static str, vault: bool| {
        let mut form = vec![("support_id", id.clone()), ("hours", hours.to_owned())];
        if vault {
            form.push(("include_vault", "on".to_owned()));
        }
        form
    };
    let res = app.call(&admin, "approve_support", &to_refs(&approve("2", false))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "an admin is not an owner");
    let (other, _) = app.signed_in("Other").await;
    assert!(ok(&app.call(&other, "step_up", &[("password", PASSWORD)]).await));
    let res = app.call(&other, "approve_support", &to_refs(&approve("2", false))).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "another organisation's owner");
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "approve_support", &to_refs(&approve("2", false))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no step-up (the sign-in's is 11 minutes old)");
    assert!(ok(&app.call(&owner, "step_up", &[("password", PASSWORD)]).await));
    let res = app.call(&owner, "approve_support", &to_refs(&approve("5", false))).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "more than asked");
    let res = app.call(&owner, "approve_support", &to_refs(&approve("2", true))).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "the vault, which consent keeps out");
    assert!(ok(&app.call(&owner, "approve_support", &to_refs(&approve("2", false))).await));
    assert_eq!(history(&app, "support.approved").await.len(), 1);

    // The support session: bannered, each page viewed recorded.
    let support = open(&app, &id).await;
    let html = app.get(&support, "/members").await.text().await.unwrap();
    assert!(html.contains("Support access by Sam Support until"), "the banner");
    assert!(html.contains("admin@acme.example"), "it reads the members page");
    let views = history(&app, "support.page_view").await;
    assert!(views.iter().any(|(actor, path)| actor == "Support: Sam Support" && path == "/members"), "{views:?}");
    // Reads only: every server function outside the list is refused before it runs.
    for f in SERVER_FUNCTIONS.iter().filter(|f| f.name != "sign_out") {
        let res = app.call(&support, f.name, &[("password", PASSWORD)]).await;
        match support_read(f.name) {
            Some(app::policy::SupportNeeds::Console) => {
                assert_ne!(res.status(), StatusCode::FORBIDDEN, "{}: a read", f.name);
                assert!(!res.status().is_server_error(), "{}: {}", f.name, res.status());
            }
            _ => assert_eq!(res.status(), StatusCode::FORBIDDEN, "{}: refused to support", f.name),
        }
    }
    assert_eq!(app.call(&support, "get_me", &[]).await.status(), StatusCode::OK, "still signed in");
    // Every page of the console answers the support session: shown, or refused, never a server error.
    let file = app.uploaded(&owner, "", "another-plan.txt", b"another plan").await.id;
    let someone: String = sqlx::query_scalar(
        "SELECT m.id FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE a.email = 'admin@acme.example'",
    )
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    for route in leptos_axum::generate_route_list(app::App) {
        let id = if route.path().starts_with("/vault/") { file.as_str() } else { someone.as_str() };
        let path = route.path().replace("{token}", "not-a-real-token").replace("{id}", id);
        let res = app.get(&support, &path).await;
        assert!(!res.status().is_server_error(), "{path}: {}", res.status());
    }
    // The vault and the exports were not included.
    for path in ["/vault", "/data-export", "/access-history/export"] {
        assert_eq!(app.get(&support, path).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.call(&support, "list_vault", &[]).await.status(), StatusCode::FORBIDDEN);
    let upload = support.post(app.url("/vault/upload")).header("origin", &app.base).body("x").send().await.unwrap();
    assert_eq!(upload.status(), StatusCode::FORBIDDEN, "no write outside server functions either");
    // Nothing of another organisation.
    assert!(!app.get(&support, "/members").await.text().await.unwrap().contains("owner@other.example"));

    // An owner ends it: the very next request is signed out.
    let res = app.call(&owner, "revoke_support", &[("support_id", id.as_str())]).await;
    assert!(ok(&res));
    assert_eq!(app.call(&support, "get_me", &[]).await.status(), StatusCode::UNAUTHORIZED);
    let page = app.get(&support, "/members").await;
    assert_eq!(page.headers().get("location").unwrap(), "/sign-in");
    assert!(app::backend::support::session::open_link(&app.state, &id).await.is_err(), "no new link");
    assert_eq!(history(&app, "support.revoked").await.len(), 1);
}

fn to_refs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_ends_with_its_time_and_with_consent_and_reaches_the_vault_only_when_included() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Acme").await;
    app.uploaded(&owner, "", "plan.txt", b"the plan").await;
    assert!(ok(&app.call(&owner, "step_up", &[("password", PASSWORD)]).await));
    // Consent lets owners include the vault; this owner does, for one hour.
    let res = app
        .call(
            &owner,
            "set_consent",
            &[("support_allowed", "on"), ("vault_allowed", "on"), ("security_contact", "sec@acme.example")],
        )
        .await;
    assert!(ok(&res), "{}", res.status());
    let id = app::backend::support::request(&app.state, "Acme", "Sam", "restore help", 1).await.unwrap();
    let told: Vec<String> = sqlx::query_scalar("SELECT recipient FROM pending_alerts WHERE kind = 'support_requested'")
        .fetch_all(&app.state.pool)
        .await
        .unwrap();
    assert!(told.contains(&"sec@acme.example".to_owned()), "the security contact is told: {told:?}");
    let form = [("support_id", id.as_str()), ("hours", "1"), ("include_vault", "on")];
    assert!(ok(&app.call(&owner, "approve_support", &form).await));
    let support = open(&app, &id).await;
    assert_eq!(app.call(&support, "list_vault", &[]).await.status(), StatusCode::OK, "the vault, included");
    assert_eq!(app.get(&support, "/data-export").await.status(), StatusCode::FORBIDDEN, "exports, not included");
    // Consent to the vault withdrawn (support still allowed): the approved access no longer reaches it.
    let res =
        app.call(&owner, "set_consent", &[("support_allowed", "on"), ("security_contact", "sec@acme.example")]).await;
    assert!(ok(&res), "{}", res.status());
    assert_eq!(app.call(&support, "list_vault", &[]).await.status(), StatusCode::FORBIDDEN, "vault consent withdrawn");
    let download = app.get(&support, "/vault").await;
    assert!(!download.text().await.unwrap().contains("plan.txt"), "the vault page shows no file");
    assert_eq!(app.call(&support, "get_me", &[]).await.status(), StatusCode::OK, "the rest of the access stays");
    // Its hour is up: signed out.
    app.clock.advance_ms(61 * 60_000);
    assert_eq!(app.call(&support, "get_me", &[]).await.status(), StatusCode::UNAUTHORIZED);

    // Consent withdrawn: a request is refused outright, and an approved access ends.
    let (owner, _) = app.password_step("owner@acme.example").await;
    let id = app::backend::support::request(&app.state, "Acme", "Sam", "again", 2).await.unwrap();
    assert!(ok(&app.call(&owner, "step_up", &[("password", PASSWORD)]).await));
    assert!(ok(&app.call(&owner, "approve_support", &[("support_id", id.as_str()), ("hours", "2")]).await));
    // Signing out ends that browser's session only; the access stays until it ends or is ended.
    let first = open(&app, &id).await;
    assert!(ok(&app.call(&first, "sign_out", &[]).await));
    assert_eq!(app.call(&first, "get_me", &[]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.call(&owner, "get_me", &[]).await.status(), StatusCode::OK, "the owner is not signed out");
    let support = open(&app, &id).await;
    assert_eq!(app.call(&support, "get_me", &[]).await.status(), StatusCode::OK);
    assert!(ok(&app.call(&owner, "set_consent", &[]).await), "nothing ticked: never");
    assert_eq!(app.call(&support, "get_me", &[]).await.status(), StatusCode::UNAUTHORIZED);
    let refused = app::backend::support::request(&app.state, "Acme", "Sam", "please", 2).await;
    assert!(matches!(refused, Err(app::model::AppError::Conflict { .. })), "{refused:?}");
    let v = consent(&app, &owner).await;
    assert!(!v.allowed && v.requests.iter().all(|r| r.state != "approved" && r.state != "pending"));
}
