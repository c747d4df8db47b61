//! Members' SSH keys against a stand-in GitHub on loopback (no test reaches the internet): the sync adds,
//! revokes a key removed upstream, revokes everything on a 404 or when the name comes to mean another account,
//! asks with the ETag, keeps the last keys while GitHub is down (stale) and refuses them past the limit (fail
//! closed); pasted keys follow the policy; members see and remove only their own; a raised policy disables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{self, TestApp, PASSWORD};
use app::model::SshKeysView;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhIhVlBJZKJIZhLVpeRnKGKANYDD02Lkze4k+cCAnOS";
const ED25519_FP: &str = "SHA256:EJGlsdSu6zLAYmxiZ00LbMnSyIAzXx6d69ETbWnbiXw";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEo3BHOHwBjx7p68F3OYSz6+V+y6qEDcr/hiSMO+qyTSZSBfSB6BG8t6EtJPh27S/X9jzBkaFhXsHU9rf4KcRKU=";
const ECDSA_FP: &str = "SHA256:wuOnBmuWNaj/p2dv/qvu1/3tvm1ju3TxmkkO+PCJ6TU";
const RSA_2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCpG9d1OjjMKhFbB3kt2/NlM4xybM7t8bJqSToIq+sq7poIFTCJ+v21RXOiYsPsHl2r0/2cSU8O24J3RKZG+KrzexBAnNOaF0xzWDniSUGYgQX6bRwI25jcwwxvpFQzxhilHUUCPO5JcmnoD+74MFqg6ce3IwuuuXD8cJmyW5z3Y2BRwEYOq5HWrv7JrRn8mc3g/Jt1YDgcPdlFka1tCLpusr1OzT2xHMsg0j73M8hjxnPX+ErkrwXHCJqVxrjadHamGmuX2CnlV1nAhmApSiz/AIP0BGQ5ClvqqTs/Gtqm3uThcXbgtZMUqGK5efXGCoEn67HZs60Hk2OugDIWm3of";
const SK: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fAAAABHNzaDo= yubikey";

/// One stand-in GitHub user.
#[derive(Clone)]
pub(crate) struct StubUser {
    pub id: i64,
    pub keys: Vec<(i64, String)>,
}

#[derive(Default)]
pub(crate) struct Stub {
    pub users: HashMap<String, StubUser>,
    /// Answer 503 to everything.
    down: bool,
    /// `.keys` requests answered 304.
    not_modified: usize,
    /// The REST API (not the `.keys` files) answers 403, as when its hourly limit is used up.
    api_limited: bool,
}

pub(crate) type Shared = Arc<Mutex<Stub>>;

fn etag(u: &StubUser) -> String {
    format!("\"{}\"", u.keys.iter().map(|(id, _)| id.to_string()).collect::<Vec<_>>().join("-"))
}

async fn keys_file(State(s): State<Shared>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let mut stub = s.lock().unwrap();
    if stub.down {
        return AxumStatus::SERVICE_UNAVAILABLE.into_response();
    }
    let Some(user) = file.strip_suffix(".keys").and_then(|u| stub.users.get(u)).cloned() else {
        return AxumStatus::NOT_FOUND.into_response();
    };
    let tag = etag(&user);
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
        stub.not_modified += 1;
        return AxumStatus::NOT_MODIFIED.into_response();
    }
    let body: String = user.keys.iter().map(|(_, k)| format!("{k}\n")).collect();
    ([("etag", tag)], body).into_response()
}

async fn api_keys(State(s): State<Shared>, Path(user): Path<String>) -> Response {
    let stub = s.lock().unwrap();
    if stub.api_limited {
        return AxumStatus::FORBIDDEN.into_response();
    }
    match stub.users.get(&user) {
        Some(u) if !stub.down => {
            let list: Vec<_> = u.keys.iter().map(|(id, k)| serde_json::json!({ "id": id, "key": k })).collect();
            axum::Json(list).into_response()
        }
        _ => AxumStatus::NOT_FOUND.into_response(),
    }
}

async fn api_user(State(s): State<Shared>, Path(user): Path<String>) -> Response {
    let stub = s.lock().unwrap();
    if stub.api_limited {
        return AxumStatus::FORBIDDEN.into_response();
    }
    match stub.users.get(&user) {
        Some(u) if !stub.down => axum::Json(serde_json::json!({ "login": user, "id": u.id })).into_response(),
        _ => AxumStatus::NOT_FOUND.into_response(),
    }
}

/// Starts the stand-in; returns its base URL and state.
pub(crate) async fn stand_in() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let router = axum::Router::new()
        .route("/{file}", axum::routing::get(keys_file))
        .route("/users/{user}/keys", axum::routing::get(api_keys))
        .route("/users/{user}", axum::routing::get(api_user))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), shared)
}

async fn app_with_github() -> (TestApp, Shared) {
    let (url, shared) = stand_in().await;
    let app = TestApp::spawn_with(move |s| {
        s.github_base_url = url.clone();
        s.github_api_url = url;
    })
    .await;
    (app, shared)
}

async fn view(app: &TestApp, c: &reqwest::Client) -> SshKeysView {
    let res = app.call(c, "get_ssh_keys", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn state_of<'a>(v: &'a SshKeysView, fingerprint: &str) -> Option<&'a str> {
    v.keys.iter().find(|k| k.fingerprint == fingerprint).map(|k| k.state.as_str())
}

async fn count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
        .bind(action)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

async fn sync(app: &TestApp) -> app::backend::ssh::sync::Synced {
    let membership: String =
        sqlx::query_scalar("SELECT membership_id FROM ssh_github_links").fetch_one(&app.state.pool).await.unwrap();
    app::backend::ssh::sync::sync_link(&app.state, &membership).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_keys_are_added_revoked_upstream_and_gone_with_the_user() {
    let (app, stub) = app_with_github().await;
    let (owner, email) = app.signed_in("Octo Co").await;
    stub.lock().unwrap().users.insert(
        "octo".into(),
        StubUser { id: 1, keys: vec![(11, format!("{ED25519} laptop")), (12, ECDSA.into()), (13, RSA_2048.into())] },
    );
    let res = app.call(&owner, "link_github", &[("github_user", "octo")]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let v = view(&app, &owner).await;
    assert_eq!(v.github.as_ref().unwrap().user, "octo");
    assert_eq!((state_of(&v, ED25519_FP), state_of(&v, ECDSA_FP)), (Some("active"), Some("active")));
    let rsa = v.keys.iter().find(|k| k.key_type == "ssh-rsa").unwrap();
    assert_eq!(rsa.state, "disabled", "RSA 2048 breaks the policy: kept, disabled, with the reason");
    assert!(rsa.state_reason.as_deref().unwrap().contains("3072"));
    let ed = v.keys.iter().find(|k| k.fingerprint == ED25519_FP).unwrap();
    assert_eq!((ed.bits, ed.comment.as_str(), ed.source.as_str()), (256, "laptop", "github"));
    assert_eq!((count(&app, "ssh_key.added").await, count(&app, "ssh_key.disabled").await), (3, 1));
    let told: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pending_alerts WHERE kind = 'ssh_key_added' AND recipient = $1")
            .bind(&email)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    let sent = app.outbox().iter().filter(|m| m.contains("SSH key was added")).count() as i64;
    assert!(told + sent >= 1, "the member is told");

    // Unchanged: GitHub is asked with the ETag and answers 304.
    assert_eq!(sync(&app).await, Default::default());
    assert_eq!(stub.lock().unwrap().not_modified, 1);

    // A key removed on GitHub is revoked at the next sync.
    stub.lock().unwrap().users.get_mut("octo").unwrap().keys.retain(|(id, _)| *id != 12);
    assert_eq!(sync(&app).await.revoked, 1);
    let v = view(&app, &owner).await;
    assert_eq!((state_of(&v, ECDSA_FP), state_of(&v, ED25519_FP)), (Some("revoked"), Some("active")));
    assert_eq!(count(&app, "ssh_key.revoked_upstream").await, 1);

    // The name comes to mean another GitHub account (renamed, then taken): nothing of it is trusted (the
    // active ed25519 key and the disabled RSA key are revoked).
    stub.lock().unwrap().users.insert("octo".into(), StubUser { id: 2, keys: vec![(21, SK.into())] });
    assert_eq!(sync(&app).await.revoked, 2);
    let v = view(&app, &owner).await;
    assert_eq!(state_of(&v, ED25519_FP), Some("revoked"));
    assert!(!v.keys.iter().any(|k| k.key_type.starts_with("sk-")), "the other account's key is not taken");
    assert!(v.github.unwrap().last_error.unwrap().contains("another account"));

    // Linked again (to the right account), then the user is deleted on GitHub: 404 revokes every key.
    stub.lock().unwrap().users.insert("octo".into(), StubUser { id: 2, keys: vec![(21, SK.into())] });
    assert!(app.call(&owner, "link_github", &[("github_user", "octo")]).await.status().is_success());
    assert_eq!(view(&app, &owner).await.keys.iter().filter(|k| k.state == "active").count(), 1);
    stub.lock().unwrap().users.clear();
    assert_eq!(sync(&app).await.revoked, 1);
    assert!(view(&app, &owner).await.keys.iter().all(|k| k.state != "active"));
    // Bad names are refused before anything is asked.
    let res = app.call(&owner, "link_github", &[("github_user", "../etc/passwd")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The account check cannot be skipped: when GitHub's API does not answer (its hourly limit for unauthenticated
/// callers is 60), a `.keys` list of a name whose account is known is not applied, so a name taken over in
/// the meantime brings no key in, and a later 304 does not bless what was never checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_name_brings_no_key_while_the_api_cannot_confirm_the_account() {
    let (app, stub) = app_with_github().await;
    let (owner, _) = app.signed_in("Renamed Co").await;
    stub.lock().unwrap().users.insert("octo".into(), StubUser { id: 1, keys: vec![(11, ED25519.into())] });
    assert!(app.call(&owner, "link_github", &[("github_user", "octo")]).await.status().is_success());
    assert_eq!(state_of(&view(&app, &owner).await, ED25519_FP), Some("active"));

    // The name is taken by another account while the API is limited: its key is not added, twice over.
    {
        let mut stub = stub.lock().unwrap();
        stub.users.insert("octo".into(), StubUser { id: 2, keys: vec![(21, SK.into())] });
        stub.api_limited = true;
    }
    for _ in 0..2 {
        let synced = sync(&app).await;
        assert_eq!((synced.added, synced.revoked), (0, 0));
        assert!(synced.error.unwrap().contains("account"), "the member's page says why");
        let v = view(&app, &owner).await;
        assert!(!v.keys.iter().any(|k| k.key_type.starts_with("sk-")), "the other account's key is not taken");
        assert_eq!(state_of(&v, ED25519_FP), Some("active"), "the checked key stays until the stale limit");
    }
    assert_eq!(count(&app, "ssh_key.added").await, 1);

    // The API answers again: the other account is seen, and nothing of the name is trusted.
    stub.lock().unwrap().api_limited = false;
    assert_eq!(sync(&app).await.revoked, 1);
    let v = view(&app, &owner).await;
    assert!(v.keys.iter().all(|k| k.state != "active"));
    assert!(v.github.unwrap().last_error.unwrap().contains("another account"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_stay_while_github_is_briefly_down_and_stop_past_the_stale_limit() {
    let (app, stub) = app_with_github().await;
    let (owner, _) = app.signed_in("Down Co").await;
    stub.lock().unwrap().users.insert("downer".into(), StubUser { id: 5, keys: vec![(51, ED25519.into())] });
    assert!(app.call(&owner, "link_github", &[("github_user", "downer")]).await.status().is_success());
    let key_id = view(&app, &owner).await.keys[0].id.clone();
    assert!(app::backend::ssh::sync::usable(&app.state, &key_id).await.unwrap());

    stub.lock().unwrap().down = true;
    app.clock.advance_ms(20 * 60_000);
    assert!(sync(&app).await.error.unwrap().contains("503"));
    assert!(app::backend::ssh::sync::usable(&app.state, &key_id).await.unwrap(), "kept within the limit");
    assert_eq!(view(&app, &owner).await.keys[0].state, "stale");
    assert_eq!(count(&app, "ssh_key.stale").await, 0);

    app.clock.advance_ms(45 * 60_000);
    sync(&app).await;
    assert!(!app::backend::ssh::sync::usable(&app.state, &key_id).await.unwrap(), "fails closed past the limit");
    assert_eq!(view(&app, &owner).await.keys[0].state, "stale_refused");
    sync(&app).await;
    assert_eq!(count(&app, "ssh_key.stale").await, 1, "recorded once");

    stub.lock().unwrap().down = false;
    sync(&app).await;
    assert!(app::backend::ssh::sync::usable(&app.state, &key_id).await.unwrap(), "back once a sync succeeds");
    assert_eq!(view(&app, &owner).await.keys[0].state, "active");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasted_keys_follow_the_policy_and_members_reach_only_their_own() {
    let (app, _) = app_with_github().await;
    let (owner, _) = app.signed_in("Paste Co").await;
    common::add_member(&app, "Paste Co", "dev@paste.example", "member").await;
    let (dev, _) = app.password_step("dev@paste.example").await;
    assert_eq!(app.call(&dev, "get_ssh_keys", &[]).await.status(), StatusCode::FORBIDDEN, "deny by default");
    let members: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let dev_id = members.members.iter().find(|m| m.email == "dev@paste.example").unwrap().membership_id.clone();
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let grant = [("membership_id", dev_id.as_str()), ("role", "member"), ("grant_ssh_keys", "on")];
    assert_eq!(app.call(&owner, "update_member", &grant).await.status(), StatusCode::OK);

    for (line, why) in [
        (RSA_2048, "3072"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAIVlvDBZsER3okdfRhOK1zZZrNzMHKC9xhV0FNPzCK5H97LOLLZKkMmsRjhzC+v2r+7pALga262vijJA6cS8TcKYJ/ei7QF3NH4DMy76ut+JzKUKvu2GHDTd/x97f7Oav8SbgCrOFRNb7DNIIRkemghLbwmk1FUl1Aw1g2cjo0+jAAAAFQDLIxGvV3MnKx+jYyiXtDpLbpdU1wAAAIBPI0c3tRlIT6x7JWD63g4s0ewWUT+gEJzMVIr8JVvfyhWLfweu/ouGJauAN0yN/2YVctti9xXDVrRWXebZyZwJgskk+YU3MiFUTuRSJwzhpfjM+KM+tYf65YF8uDMjx1BSYWdk6sTzZ6Xvm1VyZDV9D5RumSgOlHMTtiJxk70zzwAAAIAMyTdY6Mpb1eGWEGDZjtu8TtWMUiI+Uzz3zPJob5CPNK1VaYbTsy4JJdPUGxYhIgIRpCz4MBZzUCeJxWhA7sE4YB1hRcG7zy/5W1kHLiXNwuiz60EnxR+Y6AFgUJWyQ685JsCpdpHdKc+lrlCmjLEhLsU/xKq6bOEYYFk9NirJ6Q==", "DSA"),
        ("ssh-ed25519 AAAA", "key data"),
        ("command=\"/bin/sh\" ssh-ed25519 AAAA", "one public key line"),
    ] {
        let res = app.call(&dev, "add_ssh_key", &[("public_key", line)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{line}");
        assert!(res.text().await.unwrap().contains(why), "{line}: says why");
    }
    assert_eq!(count(&app, "ssh_key.added").await, 0, "nothing stored");
    assert!(app
        .call(&dev, "add_ssh_key", &[("public_key", &format!("{ED25519} dev-laptop"))])
        .await
        .status()
        .is_success());
    let again = app.call(&dev, "add_ssh_key", &[("public_key", ED25519)]).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY, "the same key twice");
    assert!(app.call(&owner, "add_ssh_key", &[("public_key", ECDSA)]).await.status().is_success());

    // The member sees and removes only their own; the owner sees everyone's.
    let mine = view(&app, &dev).await;
    assert_eq!((mine.keys.len(), mine.all_members), (1, false));
    let all = view(&app, &owner).await;
    assert_eq!((all.keys.len(), all.all_members), (2, true));
    let owners_key = all.keys.iter().find(|k| k.fingerprint == ECDSA_FP).unwrap().id.clone();
    let res = app.call(&dev, "remove_ssh_key", &[("ssh_key_id", &owners_key)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(view(&app, &owner).await.keys.len(), 2);

    // A raised policy (an admin, stepped up) disables what breaks it, tells the owner, deletes nothing.
    assert_eq!(
        app.call(&dev, "set_ssh_key_policy", &[("policy", "security_keys_only")]).await.status(),
        StatusCode::FORBIDDEN
    );
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "set_ssh_key_policy", &[("policy", "security_keys_only")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "needs a step-up");
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    assert!(app.call(&owner, "set_ssh_key_policy", &[("policy", "security_keys_only")]).await.status().is_success());
    let v = view(&app, &owner).await;
    assert_eq!(v.policy, "security_keys_only");
    assert!(v.keys.iter().all(|k| k.state == "disabled"), "{:?}", v.keys);
    assert_eq!(count(&app, "ssh_key.disabled").await, 2);
    let res = app.call(&dev, "add_ssh_key", &[("public_key", ED25519)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.call(&dev, "add_ssh_key", &[("public_key", SK)]).await.status().is_success(), "a security key");
    // A member who leaves takes their keys along.
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "remove_member", &[("membership_id", dev_id.as_str())]).await;
    assert!(res.status().is_success(), "{}", res.status());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ssh_keys WHERE membership_id = $1")
        .bind(&dev_id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the removed member's keys are gone");
    // The page renders, with the fingerprints, without JavaScript.
    let page = app.get(&owner, "/ssh-keys").await.text().await.unwrap();
    assert!(page.contains(ECDSA_FP) && page.contains("Security keys only"), "the page shows the keys");
}

/// A certificate after a two-factor step-up, as OpenSSH reads it (`ssh-keygen -L`), signed by the tenant's CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_issued_after_a_two_factor_step_up_and_read_by_openssh() {
    use base64::Engine as _;
    let (app, _) = app_with_github().await;
    let (owner, email) = app.signed_in("Cert Co").await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "issue_ssh_certificate", &[("public_key", ED25519)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "no two-factor, no certificate");
    assert!(res.text().await.unwrap().contains("two-factor"));
    let secret = app.enroll(&owner).await;
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "issue_ssh_certificate", &[("public_key", ED25519)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "needs a fresh step-up");
    let step = app.call(&owner, "step_up", &[("password", PASSWORD), ("code", &app.code(&secret))]).await;
    assert!(step.status().is_success());
    let res = app.call(&owner, "issue_ssh_certificate", &[("public_key", RSA_2048)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "the key policy applies");
    let res = app.call(&owner, "issue_ssh_certificate", &[("public_key", ED25519)]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let v = view(&app, &owner).await;
    let cert = &v.certificates[0];
    assert_eq!((cert.serial, cert.fingerprint.as_str()), (1, ED25519_FP));
    assert_eq!(cert.valid_before - cert.valid_after, 16 * 60_000, "a minute back, 15 minutes on");
    assert!(cert.principal.starts_with(&format!("{email}@cert-co-")), "{}", cert.principal);

    // OpenSSH reads it: type, key, CA, id, serial, the one principal, no options, no extensions.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("id-cert.pub");
    std::fs::write(&file, format!("{}\n", cert.certificate)).unwrap();
    let out = std::process::Command::new("ssh-keygen").arg("-L").arg("-f").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    let ca = app::backend::ssh::keys::parse(v.ca_public_key.as_deref().unwrap()).unwrap();
    for want in [
        "Type: ssh-ed25519-cert-v01@openssh.com user certificate".to_owned(),
        format!("Public key: ED25519-CERT {ED25519_FP}"),
        format!("Signing CA: ED25519 {}", ca.fingerprint),
        "Serial: 1".to_owned(),
        format!("Key ID: \"rampart member={email} tenant="),
        format!("        {}\n", cert.principal),
        "Critical Options: (none)".to_owned(),
        "Extensions: (none)".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} in\n{text}");
    }
    // The signature is the CA's over everything before it.
    let blob = base64::engine::general_purpose::STANDARD.decode(cert.certificate.split(' ').nth(1).unwrap()).unwrap();
    let sig_len = u32::from_be_bytes(blob[blob.len() - 87..blob.len() - 83].try_into().unwrap()) as usize;
    assert_eq!(sig_len, 83);
    let (signed, sig) = blob.split_at(blob.len() - 87);
    let ca_key = ed25519_dalek::VerifyingKey::from_bytes(ca.blob[ca.blob.len() - 32..].try_into().unwrap()).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&sig[sig.len() - 64..]).unwrap();
    ca_key.verify_strict(signed, &signature).expect("signed by the tenant's CA");

    // The lifetime is the tenant's (admins, stepped up; 1 to 720 minutes); each issue is recorded.
    let bad = app.call(&owner, "set_ssh_key_policy", &[("policy", "standard"), ("cert_minutes", "721")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = app.call(&owner, "set_ssh_key_policy", &[("policy", "standard"), ("cert_minutes", "1")]).await;
    assert!(ok.status().is_success());
    assert!(app.call(&owner, "issue_ssh_certificate", &[("public_key", ECDSA)]).await.status().is_success());
    let v = view(&app, &owner).await;
    assert_eq!(
        (v.certificates[0].serial, v.certificates[0].valid_before - v.certificates[0].valid_after),
        (2, 2 * 60_000)
    );
    assert_eq!(count(&app, "ssh_cert.issued").await, 2);
    // Expired certificates leave the page's list.
    app.clock.advance_ms(3 * 60_000);
    let left: Vec<i64> = view(&app, &owner).await.certificates.iter().map(|c| c.serial).collect();
    assert_eq!(left, [1], "the 1-minute certificate expired; the 15-minute one is still valid");
}
