//! Races: what works once works once however many requests arrive together — recovery codes, single-use vault
//! links and invitations, each fired eight times at once, and the last owner's demotion among others (a TOTP code in two sign-ins at once is in
//! two_factor.rs, revoke against in-flight requests in sessions.rs, rotation against an upload in vault.rs) — on
//! SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_client, create_key};
use crate::common::vault::upload;
use crate::common::{TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;

const RACERS: usize = 8;

/// Runs the futures concurrently on the test's runtime and collects their statuses in order.
async fn all<F: std::future::Future<Output = StatusCode>>(futures: Vec<F>) -> Vec<StatusCode> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<StatusCode>> = vec![None; pinned.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(s) => out[i] = Some(s),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|s| s.unwrap()).collect()
}

fn ok_count(statuses: &[StatusCode]) -> usize {
    statuses.iter().filter(|s| s.is_success()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_recovery_code_in_eight_sign_ins_at_once_lets_one_in() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Recovery race").await;
    app.enroll(&owner).await;
    let codes = app.fresh_recovery_codes(&owner).await;
    let mut browsers = Vec::new();
    for _ in 0..RACERS {
        browsers.push(app.password_step(&email).await.0);
    }
    let code = codes[0].clone();
    let statuses = all(browsers
        .iter()
        .map(|b| {
            let (app, code) = (&app, code.clone());
            async move { app.call(b, "verify_second_factor", &[("code", code.as_str())]).await.status() }
        })
        .collect())
    .await;
    assert_eq!(ok_count(&statuses), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.is_success() || s.is_client_error()), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_link_fetched_eight_times_at_once_serves_once() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Link race").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let (_, read) = create_key(&app, &owner, "read", &[]).await;
    let file = upload(&app, &write, "race.txt", b"only once".to_vec()).await;
    let link: Value = api_client(&app)
        .post(app.url(&format!("/api/v1/vault/files/{}/links", file["id"].as_str().unwrap())))
        .bearer_auth(&read)
        .json(&serde_json::json!({"single_use": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!("{}/vault/links/{}", app.base, link["url"].as_str().unwrap().rsplit('/').next().unwrap());
    let statuses = all((0..RACERS)
        .map(|_| {
            let (client, url) = (app.client(), url.clone());
            async move {
                let res = client.get(url).send().await.unwrap();
                let status = res.status();
                if status.is_success() {
                    assert_eq!(res.bytes().await.unwrap().as_ref(), b"only once");
                }
                status
            }
        })
        .collect())
    .await;
    assert_eq!(ok_count(&statuses), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.is_success() || *s == StatusCode::GONE), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_accepted_eight_times_at_once_makes_one_member() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Invite race").await;
    let email = "racer@invite-race.example";
    let res = app.call(&owner, "invite_member", &[("email", email), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let mail = app.wait_for_mail(email, "/invite/").await;
    let token: String = mail
        .split("/invite/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let statuses = all((0..RACERS)
        .map(|_| {
            let (app, token) = (&app, token.clone());
            async move {
                let form = [("token", token.as_str()), ("password", PASSWORD)];
                app.call(&app.client(), "accept_invitation", &form).await.status()
            }
        })
        .collect())
    .await;
    assert_eq!(ok_count(&statuses), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| s.is_success() || s.is_client_error()), "{statuses:?}");
    let (accounts, memberships): (i64, i64) = (
        sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE email = $1")
            .bind(email)
            .fetch_one(&app.state.pool)
            .await
            .unwrap(),
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships WHERE account_id IN (SELECT id FROM accounts WHERE email = $1)",
        )
        .bind(email)
        .fetch_one(&app.state.pool)
        .await
        .unwrap(),
    );
    assert_eq!((accounts, memberships), (1, 1));
}

/// Demotions of every owner at once leave one owner: each counts the owners the one before it left (on
/// PostgreSQL, two transactions used to count each other's target as still an owner, and both committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoting_every_owner_at_once_leaves_one() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Owner race").await;
    for i in 1..4 {
        crate::common::add_member(&app, "Owner race", &format!("owner-{i}@race.example"), "owner").await;
    }
    assert!(app.call(&owner, "step_up", &[("password", PASSWORD)]).await.status().is_success());
    let members: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let ids: Vec<String> = members.members.iter().map(|m| m.membership_id.clone()).collect();
    assert_eq!(ids.len(), 4);
    let owners = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
             WHERE t.name = 'Owner race' AND m.role = 'owner' AND m.deactivated_at IS NULL",
        )
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
    };
    for round in 0..5 {
        let statuses = all(ids
            .iter()
            .map(|id| {
                let (app, owner) = (&app, &owner);
                async move {
                    let form = [("membership_id", id.as_str()), ("role", "admin")];
                    app.call(owner, "update_member", &form).await.status()
                }
            })
            .collect())
        .await;
        // Refused: the last owner's demotion (409), or any once the caller's own demotion went first (403).
        let refused = [StatusCode::CONFLICT, StatusCode::FORBIDDEN];
        assert!(statuses.iter().all(|s| s.is_success() || s.is_redirection() || refused.contains(s)), "{statuses:?}");
        assert!(owners().await >= 1, "round {round}: no owner left after {statuses:?}");
        sqlx::query(
            "UPDATE memberships SET role = 'owner' WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'Owner race')",
        )
        .execute(&app.state.pool)
        .await
        .unwrap();
        app.state.access_changed();
    }
}
