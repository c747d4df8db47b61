//! The tenancy matrix: every server function and every page, listed from what the app registers (a new one
//! without an entry here fails the test), called anonymously, by a member of the tenant lacking the grant, by
//! an admin of another tenant, and by the tenant's owner. Tenant A's records carry canary strings that no
//! response to anyone else may contain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use app::model::MembersView;
use common::TestApp;
use reqwest::StatusCode;
use std::collections::BTreeSet;

const CANARY: &str = "canary-5c1e";

/// Who may call a server function.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// Reachable signed out (sign-in, links from emails); must not leak anything.
    Public,
    /// Only a browser between password and second factor (or enrollment), or a signed-in member.
    Pending,
    /// Any signed-in member, about themselves.
    Own,
    /// Needs a feature grant (members) — owners and admins have all.
    Feature,
    /// Owners and admins, about a member of their tenant (`membership_id`).
    AdminTarget,
    /// Owners and admins, about the tenant itself.
    Admin,
    /// Like `Feature`, for an act whose answer carries no tenant data (no canary to look for).
    FeatureAct,
    /// Needs a feature grant, about one record of the tenant (`file_id`, `version_id`, `link_id`): another
    /// tenant's owner gets 404.
    FeatureTarget,
    /// Needs a feature grant; answers only from this browser's own session, so another tenant's owner gets
    /// 200 with nothing of A's.
    FeatureSession,
}

fn server_functions() -> Vec<(&'static str, Access)> {
    use Access::*;
    vec![
        ("sign_in", Public),
        ("sign_out", Public),
        ("get_setup_info", Public),
        ("complete_setup", Public),
        ("request_password_reset", Public),
        ("get_reset_info", Public),
        ("complete_password_reset", Public),
        ("get_pending_sign_in", Pending),
        ("verify_second_factor", Pending),
        ("start_two_factor_enrollment", Pending),
        ("confirm_two_factor_enrollment", Pending),
        ("get_me", Own),
        ("get_overview", Own),
        ("get_security", Own),
        ("step_up", Own),
        ("change_password", Own),
        ("get_recovery_codes", Own),
        ("regenerate_recovery_codes", Own),
        ("disable_two_factor", Own),
        ("list_my_sessions", Own),
        ("revoke_my_session", Own),
        ("revoke_other_sessions", Own),
        ("list_recent_events", Feature),
        ("list_members", Feature),
        ("update_member", AdminTarget),
        ("deactivate_member", AdminTarget),
        ("reactivate_member", AdminTarget),
        ("remove_member", AdminTarget),
        ("erase_member", AdminTarget),
        ("reset_member_two_factor", AdminTarget),
        ("list_member_sessions", AdminTarget),
        ("revoke_member_sessions", AdminTarget),
        ("set_two_factor_policy", Admin),
        ("invite_member", Admin),
        ("list_invitations", Feature),
        ("resend_invitation", AdminTarget),
        ("revoke_invitation", AdminTarget),
        ("get_invite_info", Public),
        ("accept_invitation", Public),
        ("list_my_tenants", Own),
        ("switch_tenant", Own),
        ("get_keys", Feature),
        ("get_key", AdminTarget),
        ("create_key", Admin),
        ("take_fresh_key", Admin),
        ("update_key", AdminTarget),
        ("roll_key", AdminTarget),
        ("end_key_grace", AdminTarget),
        ("revoke_key", AdminTarget),
        ("set_key_policy", Admin),
        ("get_api_reference", Own),
        ("get_history", Feature),
        ("get_event", AdminTarget),
        ("verify_history", FeatureAct),
        ("set_history_retention", Admin),
        ("reveal_chain_key", Admin),
        ("get_ip_rules", Admin),
        ("add_ip_block", Admin),
        ("remove_ip_block", AdminTarget),
        ("set_console_allow_list", Admin),
        ("get_panic", Admin),
        ("press_panic_button", Admin),
        ("undo_panic", Admin),
        ("get_closure", Own),
        ("request_closure", Admin),
        ("cancel_closure", Admin),
        ("unfreeze_key", AdminTarget),
        ("get_data_exports", FeatureAct),
        ("start_data_export", Admin),
        ("get_data_export", AdminTarget),
        ("list_vault", Feature),
        ("get_vault_file", FeatureTarget),
        ("delete_vault_file", FeatureTarget),
        ("undelete_vault_file", FeatureTarget),
        ("restore_vault_version", FeatureTarget),
        ("create_vault_link", FeatureTarget),
        ("take_fresh_vault_link", FeatureSession),
        ("revoke_vault_link", FeatureTarget),
        ("get_vault_key", Admin),
        ("rotate_vault_key", Admin),
    ]
}

/// Pages anyone may open; every other page sends a signed-out browser to sign in.
const PUBLIC_PAGES: &[&str] = &[
    "/sign-in",
    "/setup/{token}",
    "/sign-in/two-factor",
    "/two-factor/setup",
    "/forgot-password",
    "/reset-password/{token}",
    "/invite/{token}",
];

/// One form that carries every argument any server function takes (extra fields are ignored), so each call
/// reaches the function's own checks rather than failing to decode.
fn form_for<'a>(
    target: &'a str,
    invitation: &'a str,
    key: &'a str,
    block: &'a str,
    event: &'a str,
    export: &'a str,
    vault: &'a VaultIds,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("export_id", export),
        ("file_id", &vault.file),
        ("version_id", &vault.old_version),
        ("link_id", &vault.link),
        ("minutes", "60"),
        ("event_id", event),
        ("days", "120"),
        ("block_id", block),
        ("cidr", "192.0.2.1"),
        ("reason", "matrix"),
        ("keys", "freeze"),
        ("confirm", "not yet"),
        ("key_id", key),
        ("kind", "read"),
        ("description", "matrix"),
        ("grace_seconds", "0"),
        ("max_age_days", "30"),
        ("membership_id", target),
        ("role", "auditor"),
        ("id", invitation),
        ("code", "123456"),
        ("password", "not-the-password-of-anyone"),
        ("current_password", "not-the-password-of-anyone"),
        ("new_password", "another-long-enough-passphrase"),
        ("email", "nobody@nowhere.example"),
        ("token", "not-a-real-token"),
    ]
}

/// Tenant A's vault records: a file named after the canary with two versions, and a link to it.
struct VaultIds {
    file: String,
    old_version: String,
    link: String,
}

async fn vault_of(app: &TestApp, owner: &reqwest::Client) -> VaultIds {
    let name = format!("{CANARY}.txt");
    app.uploaded(owner, "", &name, b"first").await;
    let file = app.uploaded(owner, "", &name, b"second").await.id;
    let res = app.call(owner, "create_vault_link", &[("file_id", file.as_str()), ("minutes", "60")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "link: {}", res.status());
    let res = app.call(owner, "get_vault_file", &[("file_id", file.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let detail: app::model::VaultFileDetailView = res.json().await.unwrap();
    let old_version = detail.versions.iter().find(|v| !v.current).unwrap().id.clone();
    VaultIds { file, old_version, link: detail.links[0].id.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_function_is_in_the_matrix_and_enforces_it() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_owned())
        .collect();
    let listed: BTreeSet<String> = server_functions().iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(registered, listed, "every server function needs a row in the tenancy matrix");

    let app = TestApp::spawn().await;
    let (a_owner, _) = app.signed_in("Acme").await;
    let canary_email = format!("{CANARY}@acme.example");
    common::add_member(&app, "Acme", &canary_email, "member").await;
    let (a_member, _) = app.password_step(&canary_email).await;
    let (b_owner, _) = app.signed_in("Bravo").await;
    let members: MembersView = app.call(&a_owner, "list_members", &[]).await.json().await.unwrap();
    let target = members.members.iter().find(|m| m.email == canary_email).unwrap().membership_id.clone();
    let invitee = format!("{CANARY}-invitee@acme.example");
    let res = app.call(&a_owner, "invite_member", &[("email", invitee.as_str()), ("role", "auditor")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let pending: Vec<app::model::InvitationView> =
        app.call(&a_owner, "list_invitations", &[]).await.json().await.unwrap();
    let invitation = pending[0].id.clone();
    // A key of A whose description is the canary; B's owner is stepped up, so only tenancy can stop B.
    let res = app.call(&a_owner, "create_key", &[("kind", "read"), ("description", CANARY)]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let keys: app::model::KeysView = app.call(&a_owner, "get_keys", &[]).await.json().await.unwrap();
    let key = keys.keys[0].id.clone();
    // A block of A whose reason is the canary.
    app.call(&a_owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.call(&a_owner, "add_ip_block", &[("cidr", "192.0.2.99"), ("reason", CANARY)]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    let rules: app::model::IpRulesView = app.call(&a_owner, "get_ip_rules", &[]).await.json().await.unwrap();
    let block = rules.blocks[0].id.clone();
    app.call(&b_owner, "step_up", &[("password", common::PASSWORD)]).await;
    let res = app.call(&b_owner, "get_ip_rules", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.text().await.unwrap().contains(CANARY), "B never sees A's network rules");
    let events: Vec<app::model::AuditEventView> =
        app.call(&a_owner, "list_recent_events", &[]).await.json().await.unwrap();
    let event = events.iter().find(|e| e.detail.contains(CANARY)).expect("an event naming the canary").id.clone();
    // An export of A (its owner stepped up above).
    let res = app.call(&a_owner, "start_data_export", &[]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let exports: app::model::DataExportsView = app.call(&a_owner, "get_data_exports", &[]).await.json().await.unwrap();
    let export = exports.exports[0].id.clone();

    let vault = vault_of(&app, &a_owner).await;

    for (name, access) in server_functions() {
        let form = form_for(&target, &invitation, &key, &block, &event, &export, &vault);
        // Anonymous: 401 for everything but the public entry points.
        let anon = app.call(&app.client(), name, &form).await;
        let status = anon.status();
        let body = anon.text().await.unwrap();
        assert!(!body.contains(CANARY), "{name}: anonymous response leaks a canary");
        match access {
            Access::Public => assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}: {body}"),
            Access::Pending => {
                assert!(matches!(status.as_u16(), 401 | 422), "{name}: anonymous got {status}")
            }
            _ => assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: anonymous"),
        }
        // A member of A without grants: 403 for features and admin acts.
        if matches!(
            access,
            Access::Feature
                | Access::FeatureAct
                | Access::FeatureTarget
                | Access::FeatureSession
                | Access::AdminTarget
                | Access::Admin
        ) {
            let res = app.call(&a_member, name, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: member without the grant");
        }
        // An admin of B acting on A's member: not found, and nothing of A in the answer.
        if matches!(access, Access::AdminTarget | Access::FeatureTarget) {
            let res = app.call(&b_owner, name, &form).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}: other tenant's admin");
            assert!(!res.text().await.unwrap().contains(CANARY), "{name}: leaks to tenant B");
        }
        if access == Access::FeatureSession {
            let res = app.call(&b_owner, name, &form).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}: B's own session");
            assert!(!res.text().await.unwrap().contains(CANARY), "{name}: leaks to tenant B");
        }
        if access == Access::FeatureAct {
            assert_eq!(app.call(&b_owner, name, &[]).await.status(), StatusCode::OK, "{name}: B acts on its own");
        }
        if access == Access::Feature {
            let res = app.call(&b_owner, name, &[]).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}: B sees its own");
            assert!(!res.text().await.unwrap().contains(CANARY), "{name}: leaks to tenant B");
            let res = app.call(&a_owner, name, &[]).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}: A's owner");
            assert!(res.text().await.unwrap().contains(CANARY), "{name}: A's owner sees A's canary");
        }
    }
    // The allowed read of an admin-target function works for A's owner.
    let res = app.call(&a_owner, "list_member_sessions", &[("membership_id", target.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // And the vault's: the file (with its links), the key; B's owner's calls changed nothing of A's.
    let res = app.call(&a_owner, "get_vault_file", &[("file_id", vault.file.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let detail: app::model::VaultFileDetailView = res.json().await.unwrap();
    assert!(detail.file.name.contains(CANARY) && detail.file.deleted_at.is_none());
    assert_eq!((detail.versions.len(), detail.links[0].status.as_str()), (2, "active"), "untouched by B");
    let res = app.call(&a_owner, "get_vault_key", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let key: app::model::VaultKeyView = res.json().await.unwrap();
    assert_eq!(key.active_version, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_listed_and_private_pages_need_a_session() {
    let routes = leptos_axum::generate_route_list(app::App);
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Pages").await;
    common::add_member(&app, "Pages", &format!("{CANARY}@pages.example"), "member").await;
    let (member, _) = app.password_step(&format!("{CANARY}@pages.example")).await;
    let members: MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let someone = members.members[0].membership_id.clone();
    let (outsider, _) = app.signed_in("Outsiders").await;
    let file = app.uploaded(&owner, "reports/", &format!("{CANARY}.txt"), b"page matrix").await.id;
    assert!(routes.len() >= 15, "the route list is read from the app: {}", routes.len());
    for route in routes {
        let pattern = route.path().to_owned();
        let id = if pattern.starts_with("/vault/") { &file } else { &someone };
        let path = pattern.replace("{token}", "not-a-real-token").replace("{id}", id);
        let anon = app.get(&app.client(), &path).await;
        if PUBLIC_PAGES.contains(&pattern.as_str()) {
            assert_ne!(anon.status(), StatusCode::INTERNAL_SERVER_ERROR, "{pattern}");
            assert!(!anon.text().await.unwrap().contains(CANARY), "{pattern}");
            continue;
        }
        assert_eq!(anon.status(), StatusCode::SEE_OTHER, "{pattern}: anonymous is sent to sign in");
        assert_eq!(anon.headers().get("location").unwrap(), "/sign-in", "{pattern}");
        let as_owner = app.get(&owner, &path).await;
        if pattern == "/" {
            assert!(as_owner.status().is_redirection(), "/ sends the owner on");
            assert_eq!(as_owner.headers().get("location").unwrap(), "/overview");
            continue;
        }
        assert_eq!(as_owner.status(), StatusCode::OK, "{pattern}: the owner");
        if pattern == "/vault/files/{id}" {
            assert!(as_owner.text().await.unwrap().contains(CANARY), "the owner sees the file");
        }
        let html = app.get(&outsider, &path).await.text().await.unwrap();
        assert!(!html.contains(CANARY), "{pattern}: another tenant's page shows A's canary");
        if matches!(
            pattern.as_str(),
            "/members"
                | "/members/{id}/sessions"
                | "/access-history"
                | "/keys"
                | "/security/network"
                | "/security/emergency"
                | "/data-export"
                | "/vault"
                | "/vault/key"
                | "/vault/files/{id}"
        ) {
            let html = app.get(&member, &path).await.text().await.unwrap();
            assert!(html.contains("You are not allowed to do this."), "{pattern}: a member without the grant");
        }
    }
}
