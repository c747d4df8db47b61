//! Erasing a member (GDPR right to erasure): an admin, stepped up, removes a member and anonymises what the
//! organisation holds about them; the access history keeps their acts under one pseudonym and still verifies
//! (backend and `rampart audit verify`) — on SQLite or PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::{api_get, create_key};
use crate::common::scan::find_everywhere;
use crate::common::{add_member, TestApp, PASSWORD};
use app::model::MembersView;
use reqwest::StatusCode;
use sqlx::Row as _;

async fn tenant_id(app: &TestApp, name: &str) -> String {
    sqlx::query_scalar("SELECT id FROM tenants WHERE name = $1").bind(name).fetch_one(&app.state.pool).await.unwrap()
}

async fn membership_of(app: &TestApp, client: &reqwest::Client, email: &str) -> String {
    let v: MembersView = app.call(client, "list_members", &[]).await.json().await.unwrap();
    v.members.into_iter().find(|m| m.email == email).unwrap().membership_id
}

async fn chain_ok(app: &TestApp, chain: &str) -> bool {
    let r = app::backend::audit::verify::verify_chain(&app.state.pool, &app.state.keys, &app.state.anchors, chain)
        .await
        .unwrap();
    assert!(r.ok, "{r:?}");
    r.ok
}

/// `rampart audit verify` against the test database, as an operator runs it.
fn cli_verify(app: &TestApp) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .current_dir(&app.settings.data_dir)
        .env_clear()
        .env("RAMPART_DATABASE_URL", &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .env("RAMPART_LOG", "warn")
        .args(["audit", "verify"])
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_member_leaves_no_email_behind_and_the_history_still_verifies() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Erasure Co").await;
    let tenant = tenant_id(&app, "Erasure Co").await;
    let victim = "Victim.Person@erasure.example";
    add_member(&app, "Erasure Co", victim, "admin").await;
    add_member(&app, "Erasure Co", "bystander@erasure.example", "member").await;
    // Sign-ins, a failed one, two sessions, an API key that is used.
    let bad = app.call(&app.client(), "sign_in", &[("email", victim), ("password", "wrong-wrong-wrong-1")]).await;
    assert_ne!(bad.status(), StatusCode::OK);
    let (victim_a, _) = app.password_step(victim).await;
    let (_victim_b, _) = app.password_step(victim).await;
    let (key_id, key) = create_key(&app, &victim_a, "read", &[]).await;
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::OK);
    app.state.api_log.flush().await;
    // While an admin, they disable a webhook endpoint (its state then names who did).
    let webhook = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) VALUES ($1, $2, 'https://93.184.216.34/hooks', 'SIEM', 'nothing', \
         1, 'x', 'x', 0, 'test')",
    )
    .bind(&webhook)
    .bind(&tenant)
    .execute(&app.state.pool)
    .await
    .unwrap();
    app.call(&victim_a, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&victim_a, "set_webhook_enabled", &[("webhook_id", &webhook), ("enabled", "false")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    // Others' events that name the victim: the owner demotes them and invites their address elsewhere.
    let target = membership_of(&app, &owner, victim).await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "update_member", &[("membership_id", &target), ("role", "member")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let (bystander, _) = app.password_step("bystander@erasure.example").await;
    let account: String = sqlx::query_scalar("SELECT id FROM accounts WHERE email = $1")
        .bind(victim)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    let own_events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE account_id = $1")
        .bind(&account)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(own_events >= 4, "sign-ins, failure, key creation: {own_events}");
    assert!(!find_everywhere(&app.state.pool, victim).await.is_empty(), "the scan finds the email before");
    assert!(chain_ok(&app, &tenant).await);
    assert!(cli_verify(&app).0);

    // Without a confirmation word nothing happens; with it, the member is erased.
    let res = app.call(&owner, "erase_member", &[("membership_id", &target), ("confirm", "erase?")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res =
        app.post_html(&owner, "erase_member", &[("membership_id", &target), ("confirm", "ERASE")], "/members").await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/members?erased=1", "works without JavaScript");

    // The email is nowhere: not in any column of any table.
    let hits = find_everywhere(&app.state.pool, victim).await;
    assert!(hits.is_empty(), "the email survives in {hits:?}");
    assert!(find_everywhere(&app.state.pool, &account).await.iter().all(|(t, _, _)| t != "accounts"));
    // One stable pseudonym for every event of theirs, without addresses or browsers.
    let pseudonym = app.state.keys.erasure_pseudonym(&tenant, &account);
    let rows = sqlx::query("SELECT ip, user_agent, ip_key, account_id FROM audit_events WHERE actor = $1")
        .bind(&pseudonym)
        .fetch_all(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(rows.len() as i64, own_events, "every own event carries the pseudonym");
    for r in &rows {
        assert_eq!((r.get::<String, _>("ip"), r.get::<String, _>("user_agent")), (String::new(), String::new()));
        assert!(r.get::<Option<String>, _>("ip_key").is_none() && r.get::<Option<String>, _>("account_id").is_none());
    }
    let key_ips: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE key_id = $1 AND ip <> ''")
        .bind(&key_id)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(key_ips, 0, "their key's requests keep no address");
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'member.erased'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(
        detail.contains(&pseudonym) && detail.contains("re-sealed") && detail.contains("head MAC before"),
        "{detail}"
    );
    let actor: String = sqlx::query_scalar("SELECT actor FROM audit_events WHERE action = 'member.erased'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(actor, owner_email, "the erasure is the admin's act");
    let mentions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE detail LIKE $1")
        .bind(format!("%{pseudonym}%"))
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(mentions >= 2, "the owner's update names the pseudonym now");
    // The chain verifies, in the backend and for the operator.
    assert!(chain_ok(&app, &tenant).await);
    let (ok, out) = cli_verify(&app);
    assert!(ok && out.contains(&tenant) && out.contains("intact"), "{out}");
    // Their key and sessions are dead; everyone else carries on.
    assert_eq!(api_get(&app, &key, "/api/v1/members").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(&victim_a, "/overview").await.status(), StatusCode::SEE_OTHER);
    let again = app.call(&app.client(), "sign_in", &[("email", victim), ("password", PASSWORD)]).await;
    assert_ne!(again.status(), StatusCode::OK, "the account is gone");
    assert_eq!(app.get(&bystander, "/overview").await.status(), StatusCode::OK);
    assert_eq!(app.get(&owner, "/members").await.status(), StatusCode::OK);
    let by: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE actor = 'bystander@erasure.example'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert!(by >= 1, "other members' events keep their names");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_of_another_tenant_keeps_its_login_there() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("First Co").await;
    let _ = app.signed_in("Second Co").await;
    let shared = "shared@both.example";
    add_member(&app, "First Co", shared, "member").await;
    let second = tenant_id(&app, "Second Co").await;
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, account_id, role, created_at) \
         SELECT 'm-shared-2', $1, id, 'member', 0 FROM accounts WHERE email = $2",
    )
    .bind(&second)
    .bind(shared)
    .execute(&app.state.pool)
    .await
    .unwrap();
    app.password_step(shared).await;
    let target = membership_of(&app, &owner, shared).await;
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&owner, "erase_member", &[("membership_id", &target), ("confirm", "ERASE")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    // Nothing of First Co names the email; the account still signs in, into Second Co.
    let first = tenant_id(&app, "First Co").await;
    for (table, column, _) in find_everywhere(&app.state.pool, shared).await {
        assert!(matches!(table.as_str(), "accounts" | "audit_events" | "sessions"), "{table}.{column}");
        if table == "audit_events" {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id = $1 AND actor = $2")
                .bind(&first)
                .bind(shared)
                .fetch_one(&app.state.pool)
                .await
                .unwrap();
            assert_eq!(n, 0);
        }
    }
    let (client, _) = app.password_step(shared).await;
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK);
    assert!(chain_ok(&app, &first).await && chain_ok(&app, &second).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_oneself_and_unconfirmed_admins_cannot_erase_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Guarded Co").await;
    add_member(&app, "Guarded Co", "second-owner@guarded.example", "owner").await;
    add_member(&app, "Guarded Co", "admin@guarded.example", "admin").await;
    add_member(&app, "Guarded Co", "member@guarded.example", "member").await;
    let (admin, _) = app.password_step("admin@guarded.example").await;
    let events = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events").fetch_one(&app.state.pool).await.unwrap()
    };
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    let before = events().await;
    for email in ["second-owner@guarded.example", owner_email.as_str()] {
        let id = membership_of(&app, &owner, email).await;
        let res = app.call(&owner, "erase_member", &[("membership_id", &id), ("confirm", "ERASE")]).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{email}");
        let body = res.text().await.unwrap();
        assert!(body.contains("owner cannot be erased") || body.contains("cannot erase yourself"), "{body}");
    }
    assert_eq!(events().await, before, "nothing was recorded or changed");
    // An admin needs a fresh step-up (a sign-in counts for ten minutes).
    app.clock.advance_ms(11 * 60_000);
    let member = membership_of(&app, &owner, "member@guarded.example").await;
    let res = app.call(&admin, "erase_member", &[("membership_id", &member), ("confirm", "ERASE")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("StepUpRequired"));
    let v: MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    assert_eq!(v.members.len(), 4, "everyone is still there");
}
