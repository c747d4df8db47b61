//! The ways in an admin made that work without them — public vault links, invitations, machine enrolment
//! tokens — end with the maker's power to make them: deactivated, removed, demoted below admin (an owner made
//! admin loses the invitations that make owners); and the panic button ends every open one of the tenant. The
//! abuse: an admin (or whoever holds their session) invites a second address as admin and mints a link, and
//! after offboarding or a panic walks back in through them — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_client, create_key};
use crate::common::{add_member, TestApp, PASSWORD};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

struct Doors<'a> {
    app: &'a TestApp,
    file: String,
}

impl Doors<'_> {
    /// A public link minted on the console by `who`: its token.
    async fn link(&self, who: &Client) -> String {
        let form = [("file_id", self.file.as_str()), ("minutes", "600")];
        let res = self.app.call(who, "create_vault_link", &form).await;
        assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
        let fresh: Option<app::model::FreshLinkView> =
            self.app.call(who, "take_fresh_vault_link", &[("file_id", self.file.as_str())]).await.json().await.unwrap();
        fresh.unwrap().url.rsplit('/').next().unwrap().to_owned()
    }

    /// A public link minted through `key`: its token.
    async fn link_by_key(&self, key: &str) -> String {
        let res = api_client(self.app)
            .post(self.app.url(&format!("/api/v1/vault/files/{}/links", self.file)))
            .bearer_auth(key)
            .json(&json!({"minutes": 600}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let url = res.json::<Value>().await.unwrap()["url"].as_str().unwrap().to_owned();
        url.rsplit('/').next().unwrap().to_owned()
    }

    async fn follow(&self, token: &str) -> StatusCode {
        self.app.client().get(self.app.url(&format!("/vault/links/{token}"))).send().await.unwrap().status()
    }

    /// An invitation by `who` for `email` as `role`: its token.
    async fn invite(&self, who: &Client, email: &str, role: &str) -> String {
        self.app.call(who, "step_up", &[("password", PASSWORD)]).await;
        let res = self.app.call(who, "invite_member", &[("email", email), ("role", role)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        let mail = self.app.wait_for_mail(email, "/invite/").await;
        mail.split("/invite/")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
            .collect()
    }

    async fn accept(&self, token: &str) -> StatusCode {
        let form = [("token", token), ("password", PASSWORD)];
        self.app.call(&self.app.client(), "accept_invitation", &form).await.status()
    }

    async fn membership(&self, owner: &Client, email: &str) -> String {
        let members: app::model::MembersView = self.app.call(owner, "list_members", &[]).await.json().await.unwrap();
        members.members.into_iter().find(|m| m.email == email).unwrap().membership_id
    }
}

async fn admin(app: &TestApp, email: &str, role: &str) -> Client {
    add_member(app, "Leavers", email, role).await;
    app.password_step(email).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_invitations_and_enrolment_tokens_end_with_their_makers_power() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Leavers").await;
    let (_, write) = create_key(&app, &owner, "write", &[]).await;
    let file = crate::common::vault::upload(&app, &write, "share/plan.txt", b"the plan".to_vec()).await;
    let d = Doors { app: &app, file: file["id"].as_str().unwrap().to_owned() };

    // An admin about to be offboarded leaves a link, an invitation of another address as admin, and a
    // machine enrolment token behind.
    let leaver = admin(&app, "leaver@leavers.example", "admin").await;
    let leaver_link = d.link(&leaver).await;
    let leaver_invite = d.invite(&leaver, "leaver.personal@evil.example", "admin").await;
    let leaver_token = crate::machines::token(&app, &leaver, "build box", "", "30").await;
    let demoted = admin(&app, "demoted@leavers.example", "admin").await;
    let demoted_link = d.link(&demoted).await;
    let removed = admin(&app, "removed@leavers.example", "admin").await;
    let (_, removed_key) = create_key(&app, &removed, "read", &[]).await;
    let removed_link = d.link_by_key(&removed_key).await;
    let co_owner = admin(&app, "co-owner@leavers.example", "owner").await;
    let owner_invite = d.invite(&co_owner, "next.owner@leavers.example", "owner").await;
    let co_owner_link = d.link(&co_owner).await;
    let stays = admin(&app, "stays@leavers.example", "admin").await;
    let stays_link = d.link(&stays).await;
    let stays_invite = d.invite(&stays, "new.hire@leavers.example", "member").await;
    let owners_link = d.link(&owner).await;
    for token in [&leaver_link, &demoted_link, &removed_link, &co_owner_link, &stays_link, &owners_link] {
        assert_eq!(d.follow(token).await, StatusCode::OK);
    }

    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let id = d.membership(&owner, "leaver@leavers.example").await;
    assert_eq!(app.call(&owner, "deactivate_member", &[("membership_id", &id)]).await.status(), StatusCode::OK);
    assert_eq!(d.follow(&leaver_link).await, StatusCode::GONE, "the deactivated admin's link");
    assert_eq!(d.accept(&leaver_invite).await, StatusCode::NOT_FOUND, "the deactivated admin's invitation");
    let (_, csr) = crate::machines::csr();
    let res = crate::machines::enrol(&app, &leaver_token, &csr).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the deactivated admin's enrolment token");
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'member.deactivate' ORDER BY seq DESC")
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert!(detail.contains("1 vault link(s), 1 invitation(s), 1 machine enrolment token(s) revoked"), "{detail}");

    let id = d.membership(&owner, "demoted@leavers.example").await;
    let res = app.call(&owner, "update_member", &[("membership_id", &id), ("role", "member")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(d.follow(&demoted_link).await, StatusCode::GONE, "demoted below admin");
    let id = d.membership(&owner, "removed@leavers.example").await;
    assert_eq!(app.call(&owner, "remove_member", &[("membership_id", &id)]).await.status(), StatusCode::OK);
    assert_eq!(d.follow(&removed_link).await, StatusCode::GONE, "removed: the link its key made ends too");
    // An owner made admin keeps what an admin may make, not an invitation that makes an owner.
    let id = d.membership(&owner, "co-owner@leavers.example").await;
    let res = app.call(&owner, "update_member", &[("membership_id", &id), ("role", "admin")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(d.follow(&co_owner_link).await, StatusCode::OK, "still an admin: the link stays");
    assert_eq!(d.accept(&owner_invite).await, StatusCode::NOT_FOUND, "no owner made by a former owner");

    // Sending an invitation again is inviting again: an admin cannot send one that makes an owner.
    let heir = d.invite(&owner, "heir@leavers.example", "owner").await;
    let open: Vec<app::model::InvitationView> = app.call(&owner, "list_invitations", &[]).await.json().await.unwrap();
    let heir_id = open.iter().find(|i| i.email == "heir@leavers.example").unwrap().id.clone();
    let res = app.call(&stays, "resend_invitation", &[("id", heir_id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "an admin re-sends no owner invitation");

    // Nobody else's: the other admin's and the owner's stay open, until the panic button ends them all.
    assert_eq!(d.follow(&stays_link).await, StatusCode::OK);
    assert_eq!(d.follow(&owners_link).await, StatusCode::OK);
    let res = app.call(&owner, "press_panic_button", &[("keys", "freeze"), ("confirm", "PANIC")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    for token in [&stays_link, &owners_link, &co_owner_link] {
        assert_eq!(d.follow(token).await, StatusCode::GONE, "the panic ends every link");
    }
    assert_eq!(d.accept(&stays_invite).await, StatusCode::NOT_FOUND, "and every open invitation");
    assert_eq!(d.accept(&heir).await, StatusCode::NOT_FOUND, "the owner's own too");
}
