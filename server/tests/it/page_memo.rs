//! Kept pages (`middleware::page_memo`): `/overview` and `/members` served again without rendering, only while
//! nothing they show can have changed. A kept page is the page rendered afresh, with its own nonce; and each
//! way its content changes (a change on this instance, by another process, a role, a session ended, the
//! clock passing an invitation's expiry, another member or tenant asking) shows on the next request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{self, TestApp};
use crate::metrics::scrape;
use app::backend::platform::clock::{Clock as _, MINUTE_MS};
use reqwest::{Client, StatusCode};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const KEPT: &str = "rampart_pages_served_kept_total";

async fn spawn() -> (TestApp, SocketAddr) {
    let app = TestApp::spawn_with(|s| s.metrics_addr = Some("127.0.0.1:0".parse().unwrap())).await;
    let addr = app.running.as_ref().unwrap().metrics_addr.unwrap();
    (app, addr)
}

async fn kept(metrics: SocketAddr) -> f64 {
    scrape(metrics).await.get(KEPT, &[])
}

/// A page's body and the nonce its CSP names.
async fn page(app: &TestApp, client: &Client, path: &str) -> (String, String) {
    let res = app.get(client, path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let nonce = nonce_of(res.headers());
    (res.text().await.unwrap(), nonce)
}

/// The nonce a response's CSP names.
fn nonce_of(headers: &reqwest::header::HeaderMap) -> String {
    let csp = headers["content-security-policy"].to_str().unwrap();
    csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).unwrap().to_owned()
}

/// Asks for `path` until a response is served kept (the tests beside this one move the process's epoch with
/// their changes, which empties the memo); returns that page.
async fn until_kept(app: &TestApp, metrics: SocketAddr, client: &Client, path: &str) -> String {
    for _ in 0..300 {
        let before = kept(metrics).await;
        let (body, _) = page(app, client, path).await;
        if kept(metrics).await > before {
            return body;
        }
    }
    panic!("{path} was never served kept");
}

/// Deactivates `email`'s membership as `owner`.
async fn deactivate(app: &TestApp, owner: &Client, email: &str) {
    let list: app::model::MembersView = app.call(owner, "list_members", &[]).await.json().await.unwrap();
    let id = list.members.into_iter().find(|m| m.email == email).unwrap().membership_id;
    let res = app.call(owner, "deactivate_member", &[("membership_id", id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

/// The members page's row of `email`.
fn row<'a>(page: &'a str, email: &str) -> &'a str {
    let at = page.find(&format!(">{email}")).unwrap_or_else(|| panic!("{email} not listed"));
    let end = page[at..].find("</tr>").map_or(page.len(), |e| at + e);
    &page[at..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_page_is_the_page_rendered_afresh_with_its_own_nonce() {
    let (app, metrics) = spawn().await;
    let (owner, _) = app.signed_in("Kept").await;
    common::add_member(&app, "Kept", "emp@kept.example", "member").await;
    for path in ["/overview", "/members"] {
        let mut compared = false;
        for _ in 0..300 {
            let before = kept(metrics).await;
            let (fresh, fresh_nonce) = page(&app, &owner, path).await;
            let rendered = kept(metrics).await;
            let (again, nonce) = page(&app, &owner, path).await;
            if rendered != before || kept(metrics).await == rendered {
                continue; // the first was not rendered, or the second was rendered too: try again
            }
            assert_ne!(nonce, fresh_nonce, "every response has its own nonce");
            assert!(again.contains(&format!("nonce=\"{nonce}\"")), "the page's script carries the header's nonce");
            assert!(!again.contains(&fresh_nonce), "no earlier nonce is served again");
            assert_eq!(again, fresh.replace(&fresh_nonce, &nonce), "{path}: the kept page is the rendered page");
            compared = true;
            break;
        }
        assert!(compared, "{path}: never rendered then kept");
    }
    // A request the memo may not answer goes through as before: the same page with a notice in its URL.
    let (noticed, _) = page(&app, &owner, "/members?deactivated=1").await;
    assert!(noticed.contains("The member was deactivated"));
    let (plain, _) = page(&app, &owner, "/members").await;
    assert!(!plain.contains("The member was deactivated"), "the URL is part of what is kept");
}

/// A client that accepts gzip (every browser) is served the kept page gzipped: the same page with this
/// response's nonce, which stands in the compressed bytes uncompressed (a nonce compressed with the page would
/// let an answer's length tell what it has in common with the page).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_page_is_served_gzipped_to_a_client_that_accepts_it() {
    let (app, metrics) = spawn().await;
    let (owner, _) = app.signed_in("Gzipped").await;
    for i in 0..20 {
        common::add_member(&app, "Gzipped", &format!("member-{i}@gzipped.example"), "member").await;
    }
    let fetch = |path: &'static str, accept: &'static str| {
        let req = owner.get(app.url(path)).header("accept", "text/html");
        async move {
            let req = if accept.is_empty() { req } else { req.header("accept-encoding", accept) };
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let headers = res.headers().clone();
            (headers, res.bytes().await.unwrap().to_vec())
        }
    };
    for path in ["/overview", "/members"] {
        let plain = until_kept(&app, metrics, &owner, path).await;
        let mut served = None;
        for _ in 0..300 {
            let before = kept(metrics).await;
            let (headers, body) = fetch(path, "br, gzip, deflate").await;
            if kept(metrics).await > before {
                served = Some((headers, body));
                break;
            }
        }
        let (headers, body) = served.unwrap_or_else(|| panic!("{path} was never served kept"));
        assert_eq!(headers["content-encoding"], "gzip", "{path}");
        assert!(headers.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("accept-encoding")));
        let nonce = nonce_of(&headers);
        let page = String::from_utf8(common::gunzip(&body)).unwrap();
        assert!(page.contains(&format!("nonce=\"{nonce}\"")), "{path}: the header's nonce is in the page");
        let plain_nonce = plain.split("nonce=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
        assert_eq!(page, plain.replace(plain_nonce, &nonce), "{path}: the page itself");
        assert!(body.windows(nonce.len()).any(|w| w == nonce.as_bytes()), "{path}: the nonce is stored as it is");
        assert!(body.len() * 3 < page.len(), "{path}: {} bytes for a page of {}", body.len(), page.len());
        // A client that does not accept gzip, or refuses it by weight, gets the page as it is.
        for accept in ["", "gzip;q=0, identity", "br"] {
            let (headers, body) = fetch(path, accept).await;
            assert!(headers.get("content-encoding").is_none(), "{path} {accept:?}");
            assert!(String::from_utf8(body).unwrap().contains("</html>"), "{path} {accept:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_page_shows_every_change_on_the_next_request() {
    let (app, metrics) = spawn().await;
    let (owner, _) = app.signed_in("Changes").await;
    for (email, role) in
        [("admin@changes.example", "admin"), ("a@changes.example", "member"), ("b@changes.example", "member")]
    {
        common::add_member(&app, "Changes", email, role).await;
    }
    let (admin, _) = app.password_step("admin@changes.example").await;

    // A change on this instance: the admin's kept list shows the deactivation at once.
    let before = until_kept(&app, metrics, &admin, "/members").await;
    assert!(!row(&before, "a@changes.example").contains("deactivated"));
    deactivate(&app, &owner, "a@changes.example").await;
    let (after, _) = page(&app, &admin, "/members").await;
    assert!(row(&after, "a@changes.example").contains("deactivated"), "{}", row(&after, "a@changes.example"));

    // Another member of the tenant never gets the admin's page, kept or not.
    let (member, _) = app.password_step("b@changes.example").await;
    let admins = until_kept(&app, metrics, &admin, "/overview").await;
    assert!(admins.contains("admin@changes.example") && admins.contains("href=\"/members\""));
    let (theirs, _) = page(&app, &member, "/overview").await;
    assert!(theirs.contains("b@changes.example") && !theirs.contains("admin@changes.example"));
    assert!(!theirs.contains("href=\"/members\""), "a member without the team grant has no link to the team");
    // Nor does another tenant's owner.
    let (stranger, _) = app.signed_in("Strangers").await;
    let (elsewhere, _) = page(&app, &stranger, "/members").await;
    assert!(!elsewhere.contains("changes.example"), "another tenant's members");

    // A role taken away: the admin's next page no longer offers the team.
    until_kept(&app, metrics, &admin, "/overview").await;
    let list: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let id = list.members.into_iter().find(|m| m.email == "admin@changes.example").unwrap().membership_id;
    let res = app.call(&owner, "update_member", &[("membership_id", id.as_str()), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let (demoted, _) = page(&app, &admin, "/overview").await;
    assert!(!demoted.contains("href=\"/members\""), "the navigation of a member");

    // A session ended: its kept page is not served; the gate sends the browser to sign in.
    until_kept(&app, metrics, &member, "/overview").await;
    deactivate(&app, &owner, "b@changes.example").await;
    assert_eq!(app.get(&member, "/overview").await.status(), StatusCode::SEE_OTHER);
}

/// What another process changes (the operator's CLI, an instance without a push), and what the clock
/// changes, reach a kept page exactly as they reach the caches behind it: within the one-second bound, and at
/// the moment an invitation expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_page_follows_other_processes_and_the_clock() {
    let (app, metrics) = spawn().await;
    let (owner, _) = app.signed_in("Clocked").await;
    common::add_member(&app, "Clocked", "far@clocked.example", "member").await;

    // A deactivation written by another process, which moves no epoch here.
    until_kept(&app, metrics, &owner, "/members").await;
    sqlx::query(
        "UPDATE memberships SET deactivated_at = $1 WHERE account_id = (SELECT id FROM accounts WHERE email = $2)",
    )
    .bind(app.clock.now_ms())
    .bind("far@clocked.example")
    .execute(&app.state.pool)
    .await
    .unwrap();
    let started = Instant::now();
    loop {
        let (now, _) = page(&app, &owner, "/members").await;
        if row(&now, "far@clocked.example").contains("deactivated") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "another process's change never showed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An invitation expiring: due in a minute, then the clock passes it.
    let res = app.call(&owner, "invite_member", &[("email", "soon@clocked.example"), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let due = app.clock.now_ms() + MINUTE_MS;
    sqlx::query("UPDATE invitations SET expires_at = $1 WHERE email = $2")
        .bind(due)
        .bind("soon@clocked.example")
        .execute(&app.state.pool)
        .await
        .unwrap();
    app::backend::access::epoch::bump(); // as the process that changed it would have told this one
    let pending = until_kept(&app, metrics, &owner, "/members").await;
    assert!(!row(&pending, "soon@clocked.example").contains("expired"), "{}", row(&pending, "soon@clocked.example"));
    app.clock.advance_ms(2 * MINUTE_MS);
    let (passed, _) = page(&app, &owner, "/members").await;
    assert!(row(&passed, "soon@clocked.example").contains("expired"), "the next request after the expiry");
}
