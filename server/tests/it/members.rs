//! Roles, per-feature grants and offboarding, enforced by the server whatever the form says — on SQLite or
//! PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::{TestApp, PASSWORD};
use app::backend::platform::clock::MINUTE_MS;
use app::model::MembersView;
use reqwest::StatusCode;

async fn membership_of(app: &TestApp, admin: &reqwest::Client, email: &str) -> String {
    let list: MembersView = app.call(admin, "list_members", &[]).await.json().await.unwrap();
    list.members.into_iter().find(|m| m.email == email).unwrap().membership_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_decide_what_a_member_reaches_and_changes_apply_at_once() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Grants").await;
    common::add_member(&app, "Grants", "emp@grants.example", "member").await;
    let (emp, _) = app.password_step("emp@grants.example").await;
    // Deny by default: a member with no grant sees neither the history nor the team.
    assert_eq!(app.call(&emp, "list_recent_events", &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.call(&emp, "list_members", &[]).await.status(), StatusCode::FORBIDDEN);
    let me: app::model::Me = app.call(&emp, "get_me", &[]).await.json().await.unwrap();
    assert!(me.features.is_empty());

    let id = membership_of(&app, &owner, "emp@grants.example").await;
    let form = [("membership_id", id.as_str()), ("role", "member"), ("grant_access_history", "on")];
    let res = app.call(&owner, "update_member", &form).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    // The very next request of the member sees the grant, without signing in again.
    assert_eq!(app.call(&emp, "list_recent_events", &[]).await.status(), StatusCode::OK);
    assert_eq!(app.call(&emp, "list_members", &[]).await.status(), StatusCode::FORBIDDEN);
    let page = app.get(&emp, "/overview").await.text().await.unwrap();
    assert!(page.contains("href=\"/access-history\"") && !page.contains("href=\"/members\""), "navigation");

    // A forged form from the member is refused by the server.
    let forged = [("membership_id", id.as_str()), ("role", "admin")];
    assert_eq!(app.call(&emp, "update_member", &forged).await.status(), StatusCode::FORBIDDEN);
    let events = app.events(&owner).await;
    assert!(events.iter().any(|(a, _, _)| a == "member.update"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_roles_and_changing_grants_need_step_up() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("StepUps").await;
    common::add_member(&app, "StepUps", "m@stepups.example", "member").await;
    let id = membership_of(&app, &owner, "m@stepups.example").await;
    app.clock.advance_ms(11 * MINUTE_MS);
    for form in [
        vec![("membership_id", id.as_str()), ("role", "admin")],
        vec![("membership_id", id.as_str()), ("role", "member"), ("grant_team", "on")],
    ] {
        let res = app.call(&owner, "update_member", &form).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().await.unwrap().contains("StepUpRequired"));
    }
    // Lowering needs none: an auditor reads the history only.
    let res = app.call(&owner, "update_member", &[("membership_id", id.as_str()), ("role", "auditor")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.call(&owner, "update_member", &[("membership_id", id.as_str()), ("role", "admin")]).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_owner_is_protected_and_only_owners_touch_owners() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Owners").await;
    common::add_member(&app, "Owners", "admin@owners.example", "admin").await;
    let (admin, _) = app.password_step("admin@owners.example").await;
    let owner_id = membership_of(&app, &owner, &email).await;
    let admin_id = membership_of(&app, &owner, "admin@owners.example").await;

    // The owner cannot demote, deactivate or remove themselves as the last owner.
    let res = app.call(&owner, "update_member", &[("membership_id", owner_id.as_str()), ("role", "admin")]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // An admin cannot touch the owner, nor make anyone owner.
    for (f, form) in [
        ("update_member", vec![("membership_id", owner_id.as_str()), ("role", "member")]),
        ("deactivate_member", vec![("membership_id", owner_id.as_str())]),
        ("update_member", vec![("membership_id", admin_id.as_str()), ("role", "owner")]),
    ] {
        assert_eq!(app.call(&admin, f, &form).await.status(), StatusCode::FORBIDDEN, "{f} {form:?}");
    }
    // With a second owner, the first may step down.
    let res = app.call(&owner, "update_member", &[("membership_id", admin_id.as_str()), ("role", "owner")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let res = app.call(&owner, "update_member", &[("membership_id", owner_id.as_str()), ("role", "admin")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let me: app::model::Me = app.call(&owner, "get_me", &[]).await.json().await.unwrap();
    assert_eq!(me.role, "admin", "the change applies to the next request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_signs_out_at_once_and_reactivation_brings_nothing_back() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Leavers").await;
    common::add_member(&app, "Leavers", "leaver@leavers.example", "member").await;
    let (a, _) = app.password_step("leaver@leavers.example").await;
    let (b, _) = app.password_step("leaver@leavers.example").await;
    let id = membership_of(&app, &owner, "leaver@leavers.example").await;
    let res = app.call(&owner, "deactivate_member", &[("membership_id", id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    for c in [&a, &b] {
        assert_eq!(app.get(c, "/overview").await.status(), StatusCode::SEE_OTHER, "refused on the next request");
    }
    // Signing in again fails with the uniform message.
    let res = app.call(&app.client(), "sign_in", &[("email", "leaver@leavers.example"), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("The email or password is incorrect."));
    let res = app.call(&owner, "reactivate_member", &[("membership_id", id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get(&a, "/overview").await.status(), StatusCode::SEE_OTHER, "old sessions stay dead");
    let (fresh, location) = app.password_step("leaver@leavers.example").await;
    assert_eq!(location, "/overview");
    assert_eq!(app.get(&fresh, "/overview").await.status(), StatusCode::OK);
    let events = app.events(&owner).await;
    assert!(events.iter().any(|(a, _, _)| a == "member.deactivate"));
    assert!(events.iter().any(|(a, _, _)| a == "member.reactivate"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_needs_step_up_and_ends_the_membership() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Removals").await;
    common::add_member(&app, "Removals", "gone@removals.example", "member").await;
    let (gone, _) = app.password_step("gone@removals.example").await;
    let id = membership_of(&app, &owner, "gone@removals.example").await;
    app.clock.advance_ms(11 * MINUTE_MS);
    assert_eq!(
        app.call(&owner, "remove_member", &[("membership_id", id.as_str())]).await.status(),
        StatusCode::FORBIDDEN
    );
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    assert_eq!(app.call(&owner, "remove_member", &[("membership_id", id.as_str())]).await.status(), StatusCode::OK);
    assert_eq!(app.get(&gone, "/overview").await.status(), StatusCode::SEE_OTHER);
    let list: MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    assert!(list.members.iter().all(|m| m.email != "gone@removals.example"));
    let events = app.events(&owner).await;
    let removal = events.iter().find(|(a, _, _)| a == "member.remove");
    assert!(removal.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_members_are_not_found() {
    let app = TestApp::spawn().await;
    let (a_owner, _) = app.signed_in("Alpha").await;
    common::add_member(&app, "Alpha", "canary-7f3a@alpha.example", "member").await;
    let id = membership_of(&app, &a_owner, "canary-7f3a@alpha.example").await;
    let (b_owner, _) = app.signed_in("Beta").await;
    for (f, form) in [
        ("update_member", vec![("membership_id", id.as_str()), ("role", "auditor")]),
        ("deactivate_member", vec![("membership_id", id.as_str())]),
        ("reactivate_member", vec![("membership_id", id.as_str())]),
        ("list_member_sessions", vec![("membership_id", id.as_str())]),
    ] {
        let res = app.call(&b_owner, f, &form).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{f}");
        assert!(!res.text().await.unwrap().contains("canary-7f3a"), "{f}");
    }
    let list = app.call(&b_owner, "list_members", &[]).await.text().await.unwrap();
    assert!(!list.contains("canary-7f3a"));
}

/// The members list carries no editor per row: each manageable member links to their own page, which holds the
/// role-and-grants form (without JavaScript too) for what the viewer may change, and nothing for the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_changed_on_the_members_own_page() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Editors").await;
    common::add_member(&app, "Editors", "admin@editors.example", "admin").await;
    common::add_member(&app, "Editors", "emp@editors.example", "member").await;
    common::set_grants(&app, "emp@editors.example", "vault_read").await;
    let emp = membership_of(&app, &owner, "emp@editors.example").await;
    let owner_id = membership_of(&app, &owner, &owner_email).await;

    let list = app.get(&owner, "/members").await.text().await.unwrap();
    assert!(list.contains(&format!("href=\"/members/{emp}\"")), "a link to the member's page");
    assert!(!list.contains("action=\"/api/update_member\""), "no editor in the list");
    let page = app.get(&owner, &format!("/members/{emp}")).await.text().await.unwrap();
    assert!(page.contains("action=\"/api/update_member\"") && page.contains("emp@editors.example"), "{page}");
    assert!(page.contains(&format!("name=\"membership_id\" value=\"{emp}\"")));
    let checked = |html: &str, grant: &str| {
        let at = html.find(&format!("name=\"grant_{grant}\"")).unwrap();
        html[at..at + html[at..].find('>').unwrap()].contains("checked")
    };
    assert!(checked(&page, "vault_read") && !checked(&page, "team"), "the member's grants are ticked");

    // The form on the page does what it says, through the server function's own checks.
    let form = [("membership_id", emp.as_str()), ("role", "member"), ("grant_team", "on")];
    assert_eq!(app.call(&owner, "update_member", &form).await.status(), StatusCode::OK);
    let page = app.get(&owner, &format!("/members/{emp}")).await.text().await.unwrap();
    assert!(checked(&page, "team") && !checked(&page, "vault_read"));

    // Nothing to change: oneself, an owner as an admin, a member of another tenant, a member without the team.
    assert!(!app.get(&owner, &format!("/members/{owner_id}")).await.text().await.unwrap().contains("update_member"));
    let (admin, _) = app.password_step("admin@editors.example").await;
    let as_admin = app.get(&admin, &format!("/members/{owner_id}")).await.text().await.unwrap();
    assert!(!as_admin.contains("update_member"), "an admin cannot change an owner");
    assert!(app.get(&admin, &format!("/members/{emp}")).await.text().await.unwrap().contains("update_member"));
    let (outsider, _) = app.signed_in("Elsewhere").await;
    let foreign = app.get(&outsider, &format!("/members/{emp}")).await.text().await.unwrap();
    assert!(!foreign.contains("update_member") && !foreign.contains("emp@editors.example"));
    let (member, _) = app.password_step("emp@editors.example").await;
    common::set_grants(&app, "emp@editors.example", "").await;
    let own = app.get(&member, &format!("/members/{emp}")).await.text().await.unwrap();
    assert!(own.contains("You are not allowed to do this.") && !own.contains("update_member"));
}

/// The list carries one link per member the viewer manages and no form; the member's own page holds the
/// deactivation (or reactivation), two-factor reset, removal and erasure, each a no-JS form for that member
/// only, offered to whom the server lets act — and the server still refuses the rest whatever is posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acting_on_a_member_happens_on_their_page() {
    let app = TestApp::spawn().await;
    let (owner, owner_email) = app.signed_in("Offboard").await;
    common::add_member(&app, "Offboard", "admin@offboard.example", "admin").await;
    common::add_member(&app, "Offboard", "emp@offboard.example", "member").await;
    let emp = membership_of(&app, &owner, "emp@offboard.example").await;
    let owner_id = membership_of(&app, &owner, &owner_email).await;
    let (emp_client, _) = app.password_step("emp@offboard.example").await;
    app.enroll(&emp_client).await;

    const FORMS: [&str; 6] = [
        "update_member",
        "deactivate_member",
        "reactivate_member",
        "remove_member",
        "reset_member_two_factor",
        "erase_member",
    ];
    let forms_in = |html: &str| -> Vec<&str> {
        FORMS.into_iter().filter(|f| html.contains(&format!("action=\"/api/{f}\""))).collect()
    };
    let list = app.get(&owner, "/members").await.text().await.unwrap();
    assert_eq!(forms_in(&list), Vec::<&str>::new(), "no member form in the list");
    assert!(list.contains(&format!("<a href=\"/members/{emp}\">Manage<span class=\"sr-only\"> emp@offboard.example")));
    assert!(!list.contains(&format!("href=\"/members/{owner_id}\"")), "no link to oneself");

    let page = app.get(&owner, &format!("/members/{emp}")).await.text().await.unwrap();
    assert_eq!(
        forms_in(&page),
        ["update_member", "deactivate_member", "remove_member", "reset_member_two_factor", "erase_member"]
    );
    assert_eq!(
        page.matches(&format!("name=\"membership_id\" value=\"{emp}\"")).count(),
        5,
        "every form names the member"
    );
    assert!(
        page.contains(&format!("href=\"/members/{emp}/sessions\""))
            && page.contains("Sessions of emp@offboard.example")
    );
    // Neither oneself nor, for an admin, an owner.
    assert_eq!(
        forms_in(&app.get(&owner, &format!("/members/{owner_id}")).await.text().await.unwrap()),
        Vec::<&str>::new()
    );
    let (admin, _) = app.password_step("admin@offboard.example").await;
    let as_admin = app.get(&admin, &format!("/members/{owner_id}")).await.text().await.unwrap();
    assert_eq!(forms_in(&as_admin), Vec::<&str>::new(), "an admin manages no owner");
    assert!(!as_admin.contains(&format!("href=\"/members/{owner_id}/sessions\"")));
    // Posting anyway is refused by the server, and changes nothing.
    let res = app.call(&admin, "deactivate_member", &[("membership_id", owner_id.as_str())]).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let list: MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    assert!(list.members.iter().all(|m| m.deactivated_at.is_none()));

    // Without JavaScript: the form posts from the member's page and lands on the list with its notice.
    let res = app
        .post_html(&owner, "deactivate_member", &[("membership_id", emp.as_str())], &format!("/members/{emp}"))
        .await;
    assert_eq!(res.headers()["location"], "/members?deactivated=1");
    let list = app.get(&owner, "/members?deactivated=1").await.text().await.unwrap();
    assert!(list.contains("The member was deactivated and signed out everywhere."));
    assert!(list.contains("emp@offboard.example <strong class=\"tag\">deactivated</strong>"), "{list}");
    assert!(list.contains(&format!("href=\"/members/{emp}\"")), "a deactivated member is still managed");
    // A deactivated member's page offers reactivation, and no role change or second deactivation.
    let page = app.get(&owner, &format!("/members/{emp}")).await.text().await.unwrap();
    assert_eq!(forms_in(&page), ["reactivate_member", "remove_member", "reset_member_two_factor", "erase_member"]);
    let res = app
        .post_html(&owner, "reactivate_member", &[("membership_id", emp.as_str())], &format!("/members/{emp}"))
        .await;
    assert_eq!(res.headers()["location"], "/members?reactivated=1");
    assert!(forms_in(&app.get(&owner, &format!("/members/{emp}")).await.text().await.unwrap())
        .contains(&"deactivate_member"));

    // Removal needs a step-up: without JavaScript the refusal comes back to the member's page, which says so
    // and links to the confirmation; the member stays. (The sign-in counts as a confirmation for ten minutes.)
    app.clock.advance_ms(11 * MINUTE_MS);
    let res =
        app.post_html(&owner, "remove_member", &[("membership_id", emp.as_str())], &format!("/members/{emp}")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.contains(&format!("/members/{emp}?")) && back.contains("__err="), "{back}");
    let page = owner.get(&back).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(page.contains("enter your password again to continue"), "{page}");
    assert!(page.contains(&format!("href=\"/confirm-access?next=/members/{emp}\"")));
    assert_eq!(membership_of(&app, &owner, "emp@offboard.example").await, emp, "still a member");
}

/// The REST list is rendered once per read of the members and shared by every request until the next: a
/// change made in the console shows on the very next request, and another tenant's key never gets this list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_list_follows_a_change_at_once() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Listed").await;
    common::add_member(&app, "Listed", "emp@listed.example", "member").await;
    let emp = membership_of(&app, &owner, "emp@listed.example").await;
    let (_, key) = common::keys::create_key(&app, &owner, "read", &[]).await;
    let (other_owner, _) = app.signed_in("Unlisted").await;
    let (_, other_key) = common::keys::create_key(&app, &other_owner, "read", &[]).await;
    let api = common::keys::api_client(&app);
    let list = |key: String| {
        let (api, url) = (api.clone(), app.url("/api/v1/members"));
        async move {
            let res = api.get(url).bearer_auth(key).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.headers()["content-type"], "application/json");
            res.json::<serde_json::Value>().await.unwrap()
        }
    };
    let emp_of =
        |v: &serde_json::Value| v["members"].as_array().unwrap().iter().find(|m| m["id"] == emp.as_str()).cloned();
    for _ in 0..2 {
        let v = list(key.clone()).await;
        let m = emp_of(&v).unwrap();
        assert_eq!(m["email"], "emp@listed.example");
        // Absent, as documented, while active and before the first sign-in.
        assert!(m.get("deactivated_at").is_none() && m.get("last_sign_in_at").is_none(), "{m}");
        assert_eq!(m["grants"], serde_json::json!([]), "{m}");
    }
    let theirs = list(other_key.clone()).await;
    assert!(emp_of(&theirs).is_none() && theirs["members"].as_array().unwrap().len() == 1, "{theirs}");

    assert!(app.call(&owner, "deactivate_member", &[("membership_id", emp.as_str())]).await.status().is_success());
    let m = emp_of(&list(key.clone()).await).unwrap();
    assert!(m["deactivated_at"].is_i64(), "the very next request: {m}");
    assert!(emp_of(&list(other_key).await).is_none());
}

/// One person, two organisations: an admin of one governs that organisation only. Their authenticator guards
/// the other too, so this one cannot remove it (the other's two-factor requirement would fall to whoever has
/// the password); and this one's panic button ends its own sessions, not the person's in the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reaches_a_shared_member_only_within_their_own_organisation() {
    let app = TestApp::spawn().await;
    let (_, _) = app.signed_in("Home").await;
    let person = "shared@home.example";
    common::add_member(&app, "Home", person, "member").await;
    let (home, _) = app.password_step(person).await;
    let secret = app.enroll(&home).await;
    assert!(!secret.is_empty());
    let (other_owner, _) = app.signed_in("Elsewhere").await;
    // The same account joins the second organisation (as accepting an invitation would make it).
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, account_id, role, created_at) SELECT $1, t.id, a.id, 'member', 0 \
         FROM tenants t, accounts a WHERE t.name = 'Elsewhere' AND a.email = $2",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(person)
    .execute(&app.state.pool)
    .await
    .unwrap();
    let id = membership_of(&app, &other_owner, person).await;
    app.call(&other_owner, "step_up", &[("password", PASSWORD)]).await;
    let res = app.call(&other_owner, "reset_member_two_factor", &[("membership_id", id.as_str())]).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "{}", res.text().await.unwrap());
    let factors: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM totp_factors WHERE account_id = (SELECT id FROM accounts WHERE email = $1)",
    )
    .bind(person)
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(factors, 1, "the authenticator stays");
    assert_eq!(app.get(&home, "/overview").await.status(), StatusCode::OK, "the session at home stays");
    let res = app.call(&other_owner, "press_panic_button", &[("keys", "freeze"), ("confirm", "PANIC")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    assert_eq!(app.get(&home, "/overview").await.status(), StatusCode::OK, "another organisation's panic");
}
