//! Four-eyes approval: a lone admin cannot turn it on; with it on, each guarded act (a master key, the two-factor
//! requirement off, a lower retention, a data export, erasing a member, disabling or deleting a webhook, the
//! requirement off) waits, runs when another admin approves it — as its requester, recorded with both names — and never
//! when its requester approves it, after it expired, after it was refused or cancelled, twice, or when its
//! requester lost their role meanwhile. A master key's secret goes to its requester only, once; a master key
//! cannot start an export over the REST API meanwhile; the organisation keeps two admins while it is on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keys::api_get;
use crate::common::{self, TestApp, PASSWORD};
use app::model::{ApprovalView, ApprovalsView};
use reqwest::{Client, StatusCode};

fn ok(res: &reqwest::Response) -> bool {
    res.status().is_success() || res.status().is_redirection()
}

async fn approvals(app: &TestApp, c: &Client) -> ApprovalsView {
    let res = app.call(c, "get_approvals", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// The waiting request whose summary contains `what`.
async fn waiting(app: &TestApp, c: &Client, what: &str) -> ApprovalView {
    let v = approvals(app, c).await;
    v.waiting.into_iter().find(|r| r.summary.contains(what)).unwrap_or_else(|| panic!("no request for {what}"))
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.state.pool).await.unwrap()
}

async fn step_up(app: &TestApp, c: &Client) {
    assert!(ok(&app.call(c, "step_up", &[("password", PASSWORD)]).await));
}

/// An organisation with an owner and a second admin, both signed in and stepped up.
async fn two_admins() -> (TestApp, Client, String, Client, String) {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Acme").await;
    step_up(&app, &owner).await;
    // Alone, the owner cannot turn it on: nobody could approve anything.
    let res = app.call(&owner, "set_four_eyes", &[("required", "on")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("only owner or admin"));
    let admin_email = "second@acme.example".to_owned();
    common::add_member(&app, "Acme", &admin_email, "admin").await;
    let (admin, _) = app.password_step(&admin_email).await;
    step_up(&app, &admin).await;
    let res = app.call(&admin, "set_four_eyes", &[("required", "on")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "owners only");
    assert!(ok(&app.call(&owner, "set_four_eyes", &[("required", "on")]).await));
    assert!(approvals(&app, &owner).await.required);
    (app, owner, owner_email, admin, admin_email)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_guarded_act_waits_and_runs_as_its_requester_when_another_admin_approves() {
    let (app, owner, owner_email, admin, admin_email) = two_admins().await;
    common::add_member(&app, "Acme", "leaving@acme.example", "member").await;
    let members: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let leaving = members.members.iter().find(|m| m.email == "leaving@acme.example").unwrap().membership_id.clone();
    let webhook = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) SELECT $1, tenant_id, 'https://93.184.216.34/hooks', 'SIEM', \
         'nothing', 1, 'x', 'x', 0, 'test' FROM memberships WHERE id = $2",
    )
    .bind(&webhook)
    .bind(&leaving)
    .execute(&app.state.pool)
    .await
    .unwrap();
    let retention = count(&app, "SELECT audit_retention_days FROM tenants WHERE name = 'Acme'").await;
    let lower = (retention - 30).to_string();

    // Each act asked for by the owner waits; nothing happens yet.
    let asks: [(&str, Vec<(&str, &str)>); 6] = [
        ("create_key", vec![("kind", "master"), ("description", "deploy bot"), ("reason", "CI needs it")]),
        ("set_two_factor_policy", vec![("reason", "a trial")]),
        ("set_history_retention", vec![("days", lower.as_str()), ("reason", "storage")]),
        ("start_data_export", vec![("reason", "audit")]),
        ("erase_member", vec![("membership_id", leaving.as_str()), ("confirm", "ERASE"), ("reason", "GDPR")]),
        ("delete_webhook", vec![("webhook_id", webhook.as_str()), ("reason", "old SIEM")]),
    ];
    for (name, form) in &asks {
        let res = app.call(&owner, name, form).await;
        assert!(ok(&res), "{name}: {}", res.status());
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM api_keys WHERE kind = 'master'").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM data_exports").await, 0);
    assert_eq!(count(&app, "SELECT audit_retention_days FROM tenants WHERE name = 'Acme'").await, retention);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_endpoints").await, 1);
    let v = approvals(&app, &admin).await;
    assert_eq!(v.waiting.len(), 6, "{v:?}");
    assert!(v.waiting.iter().all(|r| r.requested_by == owner_email && !r.mine && !r.reason.is_empty()));
    assert!(v.waiting.iter().any(|r| r.summary == "erase the member leaving@acme.example"));
    assert!(v.waiting.iter().any(|r| r.summary.contains("https://93.184.216.34/hooks")));
    // Raising the retention is not risky: it runs at once.
    let higher = (retention + 10).to_string();
    assert!(ok(&app.call(&owner, "set_history_retention", &[("days", higher.as_str())]).await));
    assert_eq!(count(&app, "SELECT audit_retention_days FROM tenants WHERE name = 'Acme'").await, retention + 10);
    // The other admins were told by email.
    let told = count(&app, "SELECT COUNT(*) FROM pending_alerts WHERE kind = 'approval_requested'").await;
    assert_eq!(told, 6);

    // Never by the one who asked.
    let key_request = waiting(&app, &owner, "deploy bot").await;
    assert!(key_request.mine);
    let res = app.call(&owner, "approve_request", &[("approval_id", key_request.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "self-approval");
    let res = app.call(&owner, "refuse_request", &[("approval_id", key_request.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // Another tenant's admin cannot see or decide them.
    let (outsider, _) = app.signed_in("Other").await;
    step_up(&app, &outsider).await;
    assert!(approvals(&app, &outsider).await.waiting.is_empty());
    let res = app.call(&outsider, "approve_request", &[("approval_id", key_request.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The second admin approves each: it runs, as its requester, recorded with both names.
    for r in approvals(&app, &admin).await.waiting {
        let res = app.call(&admin, "approve_request", &[("approval_id", r.id.as_str())]).await;
        assert!(ok(&res), "{}: {}", r.summary, res.text().await.unwrap());
    }
    let v = approvals(&app, &admin).await;
    assert!(v.waiting.is_empty());
    assert!(v.decided.iter().all(|r| r.state == "approved" && r.decided_by.as_deref() == Some(admin_email.as_str())));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM api_keys WHERE kind = 'master'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM data_exports").await, 1);
    assert_eq!(count(&app, "SELECT audit_retention_days FROM tenants WHERE name = 'Acme'").await, retention - 30);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_endpoints").await, 0);
    let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE id = $1")
        .bind(&leaving)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(gone, 0, "erased");
    let both = format!("{owner_email} (approved by {admin_email})");
    for action in ["key.create", "audit.retention", "data_export.start", "member.erased", "webhook.deleted"] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1 AND actor = $2")
            .bind(action)
            .bind(&both)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
        assert_eq!(n, 1, "{action} recorded with both names");
    }
    let export_by: String =
        sqlx::query_scalar("SELECT a.email FROM data_exports d JOIN accounts a ON a.id = d.account_id")
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
    assert_eq!(export_by, owner_email, "the export is its requester's");

    // The master key's secret: to its requester, once; never to the approver.
    let none: Option<app::model::FreshKeyView> = app.call(&admin, "take_approved_key", &[]).await.json().await.unwrap();
    assert!(none.is_none(), "the approver never sees the secret");
    let html = app.get(&owner, "/settings/approvals").await.text().await.unwrap();
    let fresh: Option<app::model::FreshKeyView> =
        app.call(&owner, "take_approved_key", &[]).await.json().await.unwrap();
    let secret = match fresh {
        Some(f) => f.secret,
        // The page took it (it shows it on load): read it from there.
        None => {
            let at =
                html.find("data-testid=\"fresh-secret\"").unwrap_or_else(|| panic!("no secret on the page: {html}"));
            html[at..].split('>').nth(1).unwrap().split('<').next().unwrap().to_owned()
        }
    };
    assert_eq!(api_get(&app, &secret, "/api/v1/keys").await.status(), StatusCode::OK, "the secret works");
    let again: Option<app::model::FreshKeyView> =
        app.call(&owner, "take_approved_key", &[]).await.json().await.unwrap();
    assert!(again.is_none(), "shown once");
    // While approvals are required, a master key cannot start an export on its own.
    let res = crate::common::keys::api_client(&app)
        .post(app.url("/api/v1/exports"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("second admin"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM data_exports").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_cancelled_expired_doubled_or_orphaned_requests_never_run() {
    let (app, owner, _, admin, _) = two_admins().await;
    let ask_export = || async { assert!(ok(&app.call(&owner, "start_data_export", &[]).await)) };
    // Refused.
    ask_export().await;
    let r = waiting(&app, &admin, "export").await;
    assert!(ok(&app.call(&admin, "refuse_request", &[("approval_id", r.id.as_str())]).await));
    let res = app.call(&admin, "approve_request", &[("approval_id", r.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "a refused request cannot be approved");
    // Cancelled: only by its requester.
    ask_export().await;
    let r = waiting(&app, &admin, "export").await;
    assert_eq!(
        app.call(&admin, "cancel_request", &[("approval_id", r.id.as_str())]).await.status(),
        StatusCode::CONFLICT
    );
    assert!(ok(&app.call(&owner, "cancel_request", &[("approval_id", r.id.as_str())]).await));
    assert_eq!(
        app.call(&admin, "approve_request", &[("approval_id", r.id.as_str())]).await.status(),
        StatusCode::CONFLICT
    );
    // Approved twice at once (two other admins): it runs once.
    common::add_member(&app, "Acme", "third@acme.example", "admin").await;
    let (third, _) = app.password_step("third@acme.example").await;
    step_up(&app, &third).await;
    ask_export().await;
    let r = waiting(&app, &admin, "export").await;
    let form = [("approval_id", r.id.as_str())];
    let (a, b) = tokio::join!(app.call(&admin, "approve_request", &form), app.call(&third, "approve_request", &form));
    assert_eq!([ok(&a), ok(&b)].iter().filter(|x| **x).count(), 1, "{} {}", a.status(), b.status());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM data_exports").await, 1, "one export");
    // A requester who lost their role meanwhile: the approval runs nothing.
    let res = app.call(&third, "set_history_retention", &[("days", "100")]).await;
    assert!(ok(&res));
    let r = waiting(&app, &admin, "100 days").await;
    sqlx::query("UPDATE memberships SET role = 'member' WHERE id IN (SELECT m.id FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE a.email = 'third@acme.example')")
        .execute(&app.state.pool)
        .await
        .unwrap();
    let res = app.call(&admin, "approve_request", &[("approval_id", r.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_ne!(count(&app, "SELECT audit_retention_days FROM tenants WHERE name = 'Acme'").await, 100);
    let v = approvals(&app, &admin).await;
    assert_eq!(v.decided.iter().find(|d| d.id == r.id).unwrap().state, "failed");
    // Expired after 24 hours.
    let res = app.call(&owner, "set_history_retention", &[("days", "120")]).await;
    assert!(ok(&res));
    let r = waiting(&app, &admin, "120 days").await;
    app.clock.advance_ms(24 * 3_600_000 + 60_000);
    let (admin, _) = app.password_step("second@acme.example").await;
    step_up(&app, &admin).await;
    let res = app.call(&admin, "approve_request", &[("approval_id", r.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("expired"));
    let v = approvals(&app, &admin).await;
    assert_eq!(v.decided.iter().find(|d| d.id == r.id).unwrap().state, "expired");
    assert_ne!(count(&app, "SELECT audit_retention_days FROM tenants WHERE name = 'Acme'").await, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_it_off_needs_approval_and_two_admins_stay_while_it_is_on() {
    let (app, owner, owner_email, admin, _) = two_admins().await;
    let members: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let second = members.members.iter().find(|m| m.email != owner_email).unwrap().membership_id.clone();
    // Neither deactivating, removing, demoting nor erasing the second admin leaves the owner alone.
    for (name, form) in [
        ("deactivate_member", vec![("membership_id", second.as_str())]),
        ("remove_member", vec![("membership_id", second.as_str())]),
        ("update_member", vec![("membership_id", second.as_str()), ("role", "member")]),
    ] {
        let res = app.call(&owner, name, &form).await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{name}");
        assert!(res.text().await.unwrap().contains("two owners or admins"), "{name}");
    }
    assert_eq!(approvals(&app, &owner).await.admins, 2);
    // Off waits for the other admin.
    assert!(ok(&app.call(&owner, "set_four_eyes", &[("required", "off"), ("reason", "reorganising")]).await));
    assert!(approvals(&app, &owner).await.required, "still on");
    let r = waiting(&app, &admin, "second admin").await;
    assert_eq!(r.reason, "reorganising");
    assert!(ok(&app.call(&admin, "approve_request", &[("approval_id", r.id.as_str())]).await));
    assert!(!approvals(&app, &owner).await.required, "off once approved");
    // Off: acts run at once again, and the second admin may go.
    assert!(ok(&app.call(&owner, "start_data_export", &[]).await));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM data_exports").await, 1);
    assert!(ok(&app.call(&owner, "deactivate_member", &[("membership_id", second.as_str())]).await));
}

/// Disabling a webhook endpoint silences the receiver that would hear of everything done next (its own
/// `webhook.disabled` included), so it waits for a second admin like deleting it; enabling runs at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_webhook_waits_for_a_second_admin() {
    let (app, owner, owner_email, admin, admin_email) = two_admins().await;
    let webhook = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, enabled, secret_sealed, \
         secret_key_id, created_at, created_by) SELECT $1, id, 'https://93.184.216.34/siem', 'SIEM', \
         'nothing', 1, 'x', 'x', 0, 'test' FROM tenants WHERE name = 'Acme'",
    )
    .bind(&webhook)
    .execute(&app.state.pool)
    .await
    .unwrap();
    let enabled = || count(&app, "SELECT enabled FROM webhook_endpoints");

    let off = [("webhook_id", webhook.as_str()), ("enabled", "false"), ("reason", "noisy")];
    let res = app.call(&owner, "set_webhook_enabled", &off).await;
    assert!(ok(&res), "{}", res.status());
    assert_eq!(enabled().await, 1, "still enabled while the request waits");
    let request = waiting(&app, &admin, "disable the webhook endpoint https://93.184.216.34/siem").await;
    assert_eq!(request.requested_by, owner_email);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_events WHERE action = 'webhook.disabled'").await, 0);
    // Not by its requester; by the other admin, it runs with both names.
    let res = app.call(&owner, "approve_request", &[("approval_id", request.id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "self-approval");
    assert_eq!(enabled().await, 1);
    let res = app.call(&admin, "approve_request", &[("approval_id", request.id.as_str())]).await;
    assert!(ok(&res), "{}", res.text().await.unwrap());
    assert_eq!(enabled().await, 0);
    let by: String = sqlx::query_scalar("SELECT actor FROM audit_events WHERE action = 'webhook.disabled'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(by, format!("{owner_email} (approved by {admin_email})"));

    // Enabling again is harmless: at once, no request.
    let on = [("webhook_id", webhook.as_str()), ("enabled", "true")];
    assert!(ok(&app.call(&admin, "set_webhook_enabled", &on).await));
    assert_eq!(enabled().await, 1);
    assert!(approvals(&app, &owner).await.waiting.is_empty());
}

/// An approved master key's secret is shown once however many requests ask for it at the same moment (on
/// PostgreSQL two of them used to read it before either cleared it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_secret_taken_eight_times_at_once_is_shown_once() {
    let (app, owner, _, admin, _) = two_admins().await;
    let form = [("kind", "master"), ("description", "race bot"), ("reason", "CI")];
    assert!(ok(&app.call(&owner, "create_key", &form).await));
    let request = waiting(&app, &admin, "race bot").await;
    assert!(ok(&app.call(&admin, "approve_request", &[("approval_id", request.id.as_str())]).await));
    let takes = (0..8).map(|_| async {
        let res = app.call(&owner, "take_approved_key", &[]).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Option<app::model::FreshKeyView>>().await.unwrap()
    });
    let shown = futures_util::future::join_all(takes).await;
    assert_eq!(shown.iter().filter(|s| s.is_some()).count(), 1, "shown once");
}

/// A request that can only fail is refused at once: no approval filed, no admin emailed. A retention out of
/// range, a master key with no description, a master key asked for by a member who could never make one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_files_no_approval_and_emails_nobody() {
    let (app, owner, _, _, _) = two_admins().await;
    let before =
        (count(&app, "SELECT COUNT(*) FROM approvals").await, count(&app, "SELECT COUNT(*) FROM pending_alerts").await);
    for days in ["-5", "1", "100000"] {
        let res = app.call(&owner, "set_history_retention", &[("days", days)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{days} days");
    }
    let res = app.call(&owner, "create_key", &[("kind", "master"), ("description", "")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .call(&owner, "create_key", &[("kind", "master"), ("description", "x"), ("allowed_ips", "10.0.0.0/33")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    common::add_member(&app, "Acme", "dev@acme.example", "member").await;
    common::set_grants(&app, "dev@acme.example", "api_keys").await;
    let (dev, _) = app.password_step("dev@acme.example").await;
    step_up(&app, &dev).await;
    let res = app.call(&dev, "create_key", &[("kind", "master"), ("description", "mine")]).await;
    assert!(res.status().is_client_error() && res.status() != StatusCode::OK, "{}", res.status());
    let after =
        (count(&app, "SELECT COUNT(*) FROM approvals").await, count(&app, "SELECT COUNT(*) FROM pending_alerts").await);
    assert_eq!(after, before, "no approval filed, nobody told");
}
