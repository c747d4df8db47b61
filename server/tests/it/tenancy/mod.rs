//! The tenancy and privilege matrices, walked against the one policy table (`app::policy`): every server
//! function and every page, listed from what the app registers, and every REST route, listed from the OpenAPI
//! document (a new one without a row fails the test), called anonymously, by a member of the tenant lacking
//! the grant, by an admin of another tenant, by the tenant's owner, and — for the REST routes — by another
//! tenant's master key, a read key, a frozen key, a revoked key and a key whose maker lost the grant. Tenant
//! A's records carry canary strings that no response to anyone else may contain. The privilege matrix calls
//! every server function the table guards as every role with every grant set that matters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod rest;

use crate::common;

use crate::common::TestApp;
use app::model::{MembersView, Permission, Role};
use app::policy::{Reach, Shape, SERVER_FUNCTIONS};
use fixtures::machine_of;
use reqwest::StatusCode;
use std::collections::BTreeSet;

const CANARY: &str = "canary-5c1e";

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
        ("ssh_key_id", "no-such-ssh-key"),
        ("public_key", "ssh-ed25519 AAAA"),
        ("github_user", "matrix-user"),
        ("policy", "standard"),
        ("sftp_session_id", "no-such-sftp-session"),
        ("url", "https://203.0.113.9/hooks"),
        ("events", "*"),
        ("webhook_id", "no-such-webhook"),
        ("overlap_hours", "1"),
        ("delivery_id", "no-such-delivery"),
        ("enabled", "false"),
        ("approval_id", "no-such-approval"),
        ("required", "on"),
        ("support_id", "no-such-support-request"),
        ("hours", "1"),
        ("name", "matrix machine"),
        ("cert_days", "30"),
        ("valid_hours", "1"),
        ("token_id", "no-such-token"),
        ("machine_id", "no-such-machine"),
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
    let listed: BTreeSet<String> = SERVER_FUNCTIONS.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(registered, listed, "every server function needs a row in app::policy::SERVER_FUNCTIONS");
    assert_eq!(listed.len(), SERVER_FUNCTIONS.len(), "one row per server function");

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
    // An SSH key of A whose comment is the canary.
    let line = format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhIhVlBJZKJIZhLVpeRnKGKANYDD02Lkze4k+cCAnOS {CANARY}");
    assert!(app.call(&a_owner, "add_ssh_key", &[("public_key", line.as_str())]).await.status().is_success());
    let ssh: app::model::SshKeysView = app.call(&a_owner, "get_ssh_keys", &[]).await.json().await.unwrap();
    let ssh_key = ssh.keys[0].id.clone();
    // A webhook endpoint of A whose description is the canary (its events match nothing, so nothing is sent).
    let webhook = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) SELECT $1, tenant_id, 'https://93.184.216.34/hooks', $3, \
         'matrix_none', 1, 'x', 'x', 0, 'matrix' FROM ssh_keys WHERE id = $2",
    )
    .bind(&webhook)
    .bind(&ssh_key)
    .bind(format!("{CANARY} endpoint"))
    .execute(&app.state.pool)
    .await
    .unwrap();
    // A delivery to it (done: nothing is sent), which B's admin tries to send again.
    let delivery = format!("msg_{event}_{webhook}");
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, seq, status, attempts, next_attempt_at, \
         created_at) SELECT $1, tenant_id, id, $2, 1, 'delivered', 1, 0, 0 FROM webhook_endpoints WHERE id = $3",
    )
    .bind(&delivery)
    .bind(&event)
    .bind(&webhook)
    .execute(&app.state.pool)
    .await
    .unwrap();
    // A request of A waiting for approval, its reason the canary.
    let approval = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO approvals (id, tenant_id, act, summary, reason, requested_by, requester_membership_id, \
         created_at, expires_at, state) SELECT $1, tenant_id, '{\"act\":\"data_export\"}', 'export all data', $2, \
         'matrix', id, 0, 9999999999999, 'pending' FROM memberships WHERE id = $3",
    )
    .bind(&approval)
    .bind(format!("{CANARY} reason"))
    .bind(&target)
    .execute(&app.state.pool)
    .await
    .unwrap();
    // A support request to A, its reason the canary.
    let support = app::backend::support::request(&app.state, "Acme", "matrix operator", &format!("{CANARY} ticket"), 2)
        .await
        .unwrap();
    let (machine, machine_token) = machine_of(&app, &target).await;
    // A live SFTP session of A (as the gateway records one).
    let sftp_session = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO sftp_sessions (id, tenant_id, membership_id, actor, via, key_fingerprint, ip, client, instance, \
         started_at, last_seen_at) SELECT $1, tenant_id, id, 'matrix', 'key', 'SHA256:x', '127.0.0.1', 'ssh', 'i', 0, 0 \
         FROM memberships WHERE tenant_id = (SELECT tenant_id FROM ssh_keys WHERE id = $2) LIMIT 1",
    )
    .bind(&sftp_session)
    .bind(&ssh_key)
    .execute(&app.state.pool)
    .await
    .unwrap();

    for rule in SERVER_FUNCTIONS {
        let (name, reach, shape) = (rule.name, rule.reach, rule.shape);
        let mut form = form_for(&target, &invitation, &key, &block, &event, &export, &vault);
        for field in form.iter_mut().filter(|(k, _)| *k == "ssh_key_id") {
            field.1 = ssh_key.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "sftp_session_id") {
            field.1 = sftp_session.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "webhook_id") {
            field.1 = webhook.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "support_id") {
            field.1 = support.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "approval_id") {
            field.1 = approval.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "delivery_id") {
            field.1 = delivery.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "machine_id") {
            field.1 = machine.as_str();
        }
        for field in form.iter_mut().filter(|(k, _)| *k == "token_id") {
            field.1 = machine_token.as_str();
        }
        // Anonymous: 401 for everything but the public entry points.
        let anon = app.call(&app.client(), name, &form).await;
        let status = anon.status();
        let body = anon.text().await.unwrap();
        assert!(!body.contains(CANARY), "{name}: anonymous response leaks a canary");
        match reach {
            Reach::Public => assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{name}: {body}"),
            Reach::Pending => {
                assert!(matches!(status.as_u16(), 401 | 422), "{name}: anonymous got {status}")
            }
            _ => assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: anonymous"),
        }
        // A member of A without grants: 403 for features and admin acts.
        let guarded = !matches!(reach, Reach::Public | Reach::Pending | Reach::Own);
        if guarded {
            let res = app.call(&a_member, name, &form).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}: member without the grant");
        }
        // An admin of B acting on A's record: not found, and nothing of A in the answer.
        if shape == Shape::Target {
            let res = app.call(&b_owner, name, &form).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}: other tenant's admin");
            assert!(!res.text().await.unwrap().contains(CANARY), "{name}: leaks to tenant B");
        }
        if shape == Shape::Session {
            let res = app.call(&b_owner, name, &form).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}: B's own session");
            assert!(!res.text().await.unwrap().contains(CANARY), "{name}: leaks to tenant B");
        }
        if shape == Shape::Act {
            assert_eq!(app.call(&b_owner, name, &[]).await.status(), StatusCode::OK, "{name}: B acts on its own");
        }
        if shape == Shape::Read {
            let res = app.call(&b_owner, name, &[]).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}: B sees its own");
            assert!(!res.text().await.unwrap().contains(CANARY), "{name}: leaks to tenant B");
            let res = app.call(&a_owner, name, &[]).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}: A's owner");
            assert!(res.text().await.unwrap().contains(CANARY), "{name}: A's owner sees A's canary");
        }
    }
    // B's admin decided nothing of A's.
    let state: String = sqlx::query_scalar("SELECT state FROM approvals WHERE id = $1")
        .bind(&approval)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(state, "pending", "A's request untouched by B");
    let state: String = sqlx::query_scalar("SELECT state FROM support_requests WHERE id = $1")
        .bind(&support)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(state, "pending", "A's support request untouched by B");
    // B's admin sent nothing again and switched nothing off.
    let (status, attempts): (String, i64) =
        sqlx::query_as("SELECT status, attempts FROM webhook_deliveries WHERE id = $1")
            .bind(&delivery)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("delivered", 1), "A's delivery untouched by B");
    let enabled: i64 = sqlx::query_scalar("SELECT enabled FROM webhook_endpoints WHERE id = $1")
        .bind(&webhook)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(enabled, 1, "A's endpoint untouched by B");
    // B's admin revoked neither A's machine nor its enrolment token.
    let revoked: Option<i64> = sqlx::query_scalar("SELECT revoked_at FROM machines WHERE id = $1")
        .bind(&machine)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(revoked, None, "A's machine untouched by B");
    let revoked: Option<i64> = sqlx::query_scalar("SELECT revoked_at FROM machine_tokens WHERE id = $1")
        .bind(&machine_token)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(revoked, None, "A's enrolment token untouched by B");
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
    // A webhook endpoint of the tenant, described with the canary.
    let webhook = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) SELECT $1, tenant_id, 'https://93.184.216.34/hooks', $3, \
         'matrix_none', 1, 'x', 'x', 0, 'matrix' FROM memberships WHERE id = $2",
    )
    .bind(&webhook)
    .bind(&someone)
    .bind(format!("{CANARY} endpoint"))
    .execute(&app.state.pool)
    .await
    .unwrap();
    machine_of(&app, &someone).await;
    assert!(routes.len() >= 15, "the route list is read from the app: {}", routes.len());
    for route in routes {
        let pattern = route.path().to_owned();
        let id = if pattern.starts_with("/vault/") {
            &file
        } else if pattern.starts_with("/settings/webhooks/") {
            &webhook
        } else {
            &someone
        };
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
        if matches!(pattern.as_str(), "/vault/files/{id}" | "/settings/webhooks/{id}" | "/settings/machines") {
            assert!(as_owner.text().await.unwrap().contains(CANARY), "{pattern}: the owner sees the record");
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
                | "/settings/webhooks"
                | "/settings/webhooks/{id}"
                | "/settings/approvals"
                | "/settings/consent"
                | "/settings/machines"
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

/// The privilege matrix: every server function the table guards, called by every role with no grant, each
/// grant alone, all grants but one and all grants, is refused (403) exactly when `Reach::admits` says so.
/// Acts reserved to admins and owners are only called where the table refuses them (the tenancy matrix calls
/// them as the owner), so the walk cannot lock itself out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privilege_matrix_matches_the_policy_table() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Matrix").await;
    let vault = vault_of(&app, &owner).await;
    let mut sets: Vec<Vec<Permission>> = vec![Vec::new(), Permission::ALL.to_vec()];
    for p in Permission::ALL {
        sets.push(vec![p]);
        sets.push(Permission::ALL.into_iter().filter(|q| *q != p).collect());
    }
    let mut principals: Vec<(Role, Vec<Permission>)> = sets.iter().map(|g| (Role::Member, g.clone())).collect();
    principals.extend([
        (Role::Admin, Vec::new()),
        (Role::Auditor, Vec::new()),
        (Role::Auditor, Permission::ALL.to_vec()),
    ]);
    let mut checked = 0;
    for (i, (role, grants)) in principals.iter().enumerate() {
        let email = format!("p{i}@matrix.example");
        common::add_member(&app, "Matrix", &email, role.as_str()).await;
        common::set_grants(&app, &email, &Permission::join(grants)).await;
        let (client, _) = app.password_step(&email).await;
        for rule in SERVER_FUNCTIONS {
            if matches!(rule.reach, Reach::Public | Reach::Pending | Reach::Own) {
                continue;
            }
            let admitted = rule.reach.admits(*role, grants);
            if admitted && matches!(rule.reach, Reach::Admin | Reach::Owner) {
                continue;
            }
            let form = form_for(
                "no-such-member",
                "no-such-invitation",
                "no-such-key",
                "no-such-block",
                "no-such-event",
                "no-such-export",
                &vault,
            );
            let res = app.call(&client, rule.name, &form).await;
            let status = res.status();
            let who = format!("{} as {} with [{}]", rule.name, role.as_str(), Permission::join(grants));
            if admitted {
                assert_ne!(status, StatusCode::FORBIDDEN, "{who}: the table admits it: {}", res.text().await.unwrap());
                assert!(!status.is_server_error(), "{who}: {status}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{who}: the table refuses it");
            }
            checked += 1;
        }
    }
    assert!(checked > 500, "the walk covered {checked} calls");
}
