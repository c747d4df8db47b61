//! Invitations (single use, 72 hours, resend and revoke), joining with a new or an existing account, and
//! picking or switching the organisation — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::{TestApp, PASSWORD};
use app::backend::platform::clock::HOUR_MS;
use app::model::{InvitationView, TenantChoice};
use reqwest::StatusCode;

fn link_token(mail: &str) -> String {
    mail.split("/invite/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

async fn invite(app: &TestApp, admin: &reqwest::Client, email: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![("email", email), ("role", "member")];
    form.extend_from_slice(extra);
    let res = app.call(admin, "invite_member", &form).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    link_token(&app.wait_for_mail(email, "/invite/").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_joins_from_the_email_with_the_grants_chosen() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Invites").await;
    let email = "new.hire@invites.example";
    let token = invite(&app, &owner, email, &[("grant_access_history", "on")]).await;
    assert!(token.len() >= 43, "≥ 256 bits");
    let pending: Vec<InvitationView> = app.call(&owner, "list_invitations", &[]).await.json().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].email, email);

    let page = app.get(&app.client(), &format!("/invite/{token}")).await.text().await.unwrap();
    assert!(page.contains("Invites") && page.contains(email), "{page}");
    let res = app.call(&app.client(), "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let again = app.call(&app.client(), "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "single use");

    let (hire, location) = app.password_step(email).await;
    assert_eq!(location, "/overview");
    assert_eq!(app.call(&hire, "list_recent_events", &[]).await.status(), StatusCode::OK);
    assert_eq!(app.call(&hire, "list_members", &[]).await.status(), StatusCode::FORBIDDEN);
    let pending: Vec<InvitationView> = app.call(&owner, "list_invitations", &[]).await.json().await.unwrap();
    assert!(pending.is_empty());
    let events = app.events(&owner).await;
    assert!(events.iter().any(|(a, _, _)| a == "invitation.create"));
    assert!(events.iter().any(|(a, _, _)| a == "invitation.accept"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_expire_can_be_revoked_and_resent() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Lifecycle").await;
    let late = invite(&app, &owner, "late@lifecycle.example", &[]).await;
    app.clock.advance_ms(72 * HOUR_MS);
    let res = app.call(&app.client(), "accept_invitation", &[("token", &late), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "expired after 72 h");

    let (owner, _) = (app.password_step("owner@lifecycle.example").await.0, ());
    let first = invite(&app, &owner, "maybe@lifecycle.example", &[]).await;
    let pending: Vec<InvitationView> = app.call(&owner, "list_invitations", &[]).await.json().await.unwrap();
    let id = pending.iter().find(|i| i.email == "maybe@lifecycle.example").unwrap().id.clone();
    let res = app.call(&owner, "resend_invitation", &[("id", &id)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mails: Vec<String> = app
        .outbox()
        .iter()
        .map(|m| common::unfold_qp(m))
        .filter(|m| m.contains("maybe@lifecycle.example") && m.contains("/invite/"))
        .collect();
    assert_eq!(mails.len(), 2);
    let second = link_token(&mails[1]);
    assert_ne!(first, second);
    let old = app.call(&app.client(), "get_invite_info", &[("token", &first)]).await;
    assert_eq!(old.status(), StatusCode::NOT_FOUND, "the resent link replaces the old one");
    assert_eq!(app.call(&app.client(), "get_invite_info", &[("token", &second)]).await.status(), StatusCode::OK);
    let res = app.call(&owner, "revoke_invitation", &[("id", &id)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.call(&app.client(), "accept_invitation", &[("token", &second), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inviting_admins_or_granting_features_needs_step_up() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Careful").await;
    app.clock.advance_ms(11 * 60_000);
    for form in [
        vec![("email", "a@careful.example"), ("role", "admin")],
        vec![("email", "b@careful.example"), ("role", "member"), ("grant_team", "on")],
    ] {
        let res = app.call(&owner, "invite_member", &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    let plain = app.call(&owner, "invite_member", &[("email", "c@careful.example"), ("role", "auditor")]).await;
    assert_eq!(plain.status(), StatusCode::OK, "an auditor invitation grants nothing to raise");
    let dup = app.call(&owner, "invite_member", &[("email", "owner@careful.example"), ("role", "auditor")]).await;
    assert_eq!(dup.status(), StatusCode::CONFLICT, "already a member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_account_joins_signed_in_then_picks_and_switches_organisations() {
    let app = TestApp::spawn().await;
    let (alpha, _) = app.signed_in("Alpha").await;
    let (beta_owner, beta_email) = app.signed_in("Beta").await;
    let token = invite(&app, &alpha, &beta_email, &[]).await;
    let info: app::model::InviteInfo =
        app.call(&app.client(), "get_invite_info", &[("token", &token)]).await.json().await.unwrap();
    assert!(info.has_account);
    // Signed out, an existing account cannot take the invitation by setting a new password.
    let res = app.call(&app.client(), "accept_invitation", &[("token", &token), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Signed in as someone else: refused.
    let res = app.call(&alpha, "accept_invitation", &[("token", &token)]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = app.call(&beta_owner, "accept_invitation", &[("token", &token)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());

    let tenants: Vec<TenantChoice> = app.call(&beta_owner, "list_my_tenants", &[]).await.json().await.unwrap();
    assert_eq!(tenants.len(), 2);
    let me: app::model::Me = app.call(&beta_owner, "get_me", &[]).await.json().await.unwrap();
    assert_eq!((me.tenant_name.as_str(), me.tenant_count), ("Beta", 2));
    let alpha_membership = tenants.iter().find(|t| t.tenant_name == "Alpha").unwrap().membership_id.clone();
    let res = app.call(&beta_owner, "switch_tenant", &[("membership_id", &alpha_membership)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: app::model::Me = app.call(&beta_owner, "get_me", &[]).await.json().await.unwrap();
    assert_eq!((me.tenant_name.as_str(), me.role.as_str()), ("Alpha", "member"));
    assert_eq!(app.call(&beta_owner, "list_members", &[]).await.status(), StatusCode::FORBIDDEN, "Alpha's rules now");
    // Someone else's membership cannot be switched into.
    let alpha_tenants: Vec<TenantChoice> = app.call(&alpha, "list_my_tenants", &[]).await.json().await.unwrap();
    let res = app.call(&beta_owner, "switch_tenant", &[("membership_id", &alpha_tenants[0].membership_id)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // At the next sign-in, the account picks its organisation.
    let (_, location) = app.password_step(&beta_email).await;
    assert_eq!(location, "/organisations");
}
