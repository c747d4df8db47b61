//! Two-factor authentication end to end over HTTPS: enrollment, the two-step sign-in, code reuse and replay
//! alerts, clock skew, recovery codes, the half-signed-in state, tenant policy, step-up, password reset, admin
//! reset, throttling, and secrets at rest — on SQLite or PostgreSQL, as the run was given.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::{totp_code, TestApp, PASSWORD};
use app::backend::platform::clock::{Clock as _, MINUTE_MS};
use reqwest::StatusCode;

async fn enrolled_owner(app: &TestApp, tenant: &str) -> (reqwest::Client, String, String) {
    let (client, email) = app.signed_in(tenant).await;
    let secret = app.enroll(&client).await;
    (client, email, secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_shows_the_secret_once_and_sign_in_then_needs_a_code() {
    let app = TestApp::spawn().await;
    let (client, email) = app.signed_in("Enrol").await;
    let res = app.call(&client, "start_two_factor_enrollment", &[]).await;
    let view: app::model::TotpEnrollmentView = res.json().await.unwrap();
    assert!(view.otpauth_uri.starts_with("otpauth://totp/Rampart:"), "{}", view.otpauth_uri);
    assert!(view.qr_svg.starts_with("<svg"));
    // A wrong code does not enable anything; the same secret is offered again (the QR stays valid).
    let wrong = app.call(&client, "confirm_two_factor_enrollment", &[("code", "000000")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again: app::model::TotpEnrollmentView =
        app.call(&client, "start_two_factor_enrollment", &[]).await.json().await.unwrap();
    assert_eq!(again.secret_base32, view.secret_base32);
    let ok = app.call(&client, "confirm_two_factor_enrollment", &[("code", &app.code(&view.secret_base32))]).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers().get("location").unwrap(), "/two-factor/recovery-codes");
    // Shown once: the secret is never offered again, and the codes only on the first look.
    let refused = app.call(&client, "start_two_factor_enrollment", &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let codes = app.fresh_recovery_codes(&client).await;
    assert_eq!(codes.len(), 10);
    assert!(app.fresh_recovery_codes(&client).await.is_empty(), "recovery codes are shown once");
    app.wait_for_mail(&email, "two-factor authentication is on").await;

    app.next_step();
    let (client, location) = app.password_step(&email).await;
    assert_eq!(location, "/sign-in/two-factor");
    let res = app.call(&client, "verify_second_factor", &[("code", &app.code(&view.secret_base32))]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(res.headers().get("location").unwrap(), "/overview");
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK);
    let events = app.events(&client).await;
    assert!(events.iter().any(|(a, o, _)| a == "sign_in" && o == "success"));
    assert!(events.iter().any(|(a, _, _)| a == "two_factor.enable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_works_once_and_a_replay_alerts_the_member() {
    let app = TestApp::spawn().await;
    let (_, email, secret) = enrolled_owner(&app, "Replay").await;
    let code = app.code(&secret);
    let (first, _) = app.password_step(&email).await;
    let ok = app.call(&first, "verify_second_factor", &[("code", &code)]).await;
    assert_eq!(ok.status(), StatusCode::OK);

    // The same code again, in the same 30 s step: refused, audited, and the member is told.
    let (second, _) = app.password_step(&email).await;
    let replay = app.call(&second, "verify_second_factor", &[("code", &code)]).await;
    assert_eq!(replay.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&second, "/overview").await.status(), StatusCode::SEE_OTHER);
    let alert = app.wait_for_mail(&email, "code was used twice").await;
    assert!(alert.contains("Replay"), "the alert names the tenant");
    assert!(!alert.contains(&code), "the alert never contains the code");
    let events = app.events(&first).await;
    assert!(events.iter().any(|(a, o, _)| a == "two_factor.replay" && o == "failure"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parallel_sign_ins_with_one_code_let_only_one_in() {
    let app = TestApp::spawn().await;
    let (_, email, secret) = enrolled_owner(&app, "Race").await;
    let (a, _) = app.password_step(&email).await;
    let (b, _) = app.password_step(&email).await;
    let code = app.code(&secret);
    let form = [("code", code.as_str())];
    let (ra, rb) =
        tokio::join!(app.call(&a, "verify_second_factor", &form), app.call(&b, "verify_second_factor", &form));
    let passed = [ra.status(), rb.status()].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(passed, 1, "exactly one of two racing uses of a code passes: {} {}", ra.status(), rb.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_step_of_clock_skew_is_accepted_two_are_not() {
    let app = TestApp::spawn().await;
    let (_, email, secret) = enrolled_owner(&app, "Skew").await;
    for (offset_steps, accepted) in [(-2i64, false), (2, false), (-1, true), (1, true)] {
        app.next_step();
        app.next_step();
        app.next_step();
        let (client, _) = app.password_step(&email).await;
        let code = totp_code(&secret, app.clock.now_ms() + offset_steps * 30_000);
        let res = app.call(&client, "verify_second_factor", &[("code", &code)]).await;
        assert_eq!(res.status() == StatusCode::OK, accepted, "offset {offset_steps} steps");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_code_works_once_and_sets_are_regenerated_with_step_up() {
    let app = TestApp::spawn().await;
    let (client, email, _) = enrolled_owner(&app, "Recover").await;
    let codes = app.fresh_recovery_codes(&client).await;
    let (c1, _) = app.password_step(&email).await;
    let ok = app.call(&c1, "verify_second_factor", &[("code", &codes[0].to_uppercase())]).await;
    assert_eq!(ok.status(), StatusCode::OK, "codes are case-insensitive");
    let (c2, _) = app.password_step(&email).await;
    let reused = app.call(&c2, "verify_second_factor", &[("code", &codes[0])]).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Regeneration needs a step-up within 10 minutes: the sign-in counts, 11 minutes later it doesn't.
    app.clock.advance_ms(11 * MINUTE_MS);
    let res = app.call(&c1, "regenerate_recovery_codes", &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("StepUpRequired"));
    let secret_free = app.call(&c1, "step_up", &[("password", PASSWORD)]).await;
    assert_eq!(secret_free.status(), StatusCode::UNPROCESSABLE_ENTITY, "enrolled members need a code too");
    let step = app.call(&c1, "step_up", &[("password", PASSWORD), ("code", &codes[1]), ("next", "/security")]).await;
    assert_eq!(step.status(), StatusCode::OK);
    assert_eq!(step.headers().get("location").unwrap(), "/security");
    let res = app.call(&c1, "regenerate_recovery_codes", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let new_codes = app.fresh_recovery_codes(&c1).await;
    assert_eq!(new_codes.len(), 10);
    let (c3, _) = app.password_step(&email).await;
    let old = app.call(&c3, "verify_second_factor", &[("code", &codes[2])]).await;
    assert_eq!(old.status(), StatusCode::UNPROCESSABLE_ENTITY, "the old set stopped working");
    let new = app.call(&c3, "verify_second_factor", &[("code", &new_codes[0])]).await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_half_signed_in_state_reaches_nothing_and_expires() {
    let app = TestApp::spawn().await;
    let (_, email, secret) = enrolled_owner(&app, "Half").await;
    let (client, _) = app.password_step(&email).await;
    for page in ["/overview", "/access-history", "/security", "/members", "/two-factor/recovery-codes"] {
        let res = app.get(&client, page).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(res.headers().get("location").unwrap(), "/sign-in", "{page}");
    }
    for f in [
        "get_me",
        "get_overview",
        "list_recent_events",
        "get_security",
        "list_members",
        "get_recovery_codes",
        "regenerate_recovery_codes",
        "disable_two_factor",
        "start_two_factor_enrollment",
        "confirm_two_factor_enrollment",
    ] {
        let res = app.call(&client, f, &[("code", "123456")]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{f}");
    }
    // 5 minutes later the password step is gone: even the right code is refused.
    app.clock.advance_ms(5 * MINUTE_MS);
    let res = app.call(&client, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("timed out"));
    // And it is bound to the browser: another client has no pending state at all.
    let stranger = app.client();
    let res = app.call(&stranger, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_policy_forces_enrollment_and_lowers_the_password_minimum() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Policy").await;
    // Without its own authenticator the owner cannot require one of everybody.
    let refused = app.call(&owner, "set_two_factor_policy", &[("required", "on")]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let secret = app.enroll(&owner).await;
    let security: app::model::SecurityView = app.call(&owner, "get_security", &[]).await.json().await.unwrap();
    assert_eq!(security.password_policy.min_chars, 15);
    let res = app.call(&owner, "set_two_factor_policy", &[("required", "on")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let security: app::model::SecurityView = app.call(&owner, "get_security", &[]).await.json().await.unwrap();
    assert!(security.tenant_requires_two_factor);
    assert_eq!(security.password_policy.min_chars, 8, "password as one factor of required MFA: 8 (NIST)");
    let off = app.call(&owner, "disable_two_factor", &[]).await;
    assert_eq!(off.status(), StatusCode::CONFLICT, "2FA cannot be switched off while required");

    // A member without an authenticator signs in: enrollment first, nothing else.
    let member = "member@policy.example";
    common::add_member(&app, "Policy", member, "member").await;
    let (client, location) = app.password_step(member).await;
    assert_eq!(location, "/two-factor/setup", "straight into enrollment");
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::SEE_OTHER, "nothing else until done");
    assert_eq!(app.call(&client, "get_overview", &[]).await.status(), StatusCode::UNAUTHORIZED);
    let secret_m = app.enroll(&client).await;
    assert_eq!(app.get(&client, "/overview").await.status(), StatusCode::OK, "enrolled and signed in");
    assert!(!secret_m.is_empty() && secret_m != secret);
    let _ = email;

    // A newcomer's setup link now states and applies the 8-character minimum.
    let token = app::backend::organisation::tenants::add_member(&app.state, "Policy", "new@policy.example", "member")
        .await
        .unwrap()
        .unwrap();
    let page = app.get(&app.client(), &format!("/setup/{token}")).await.text().await.unwrap();
    assert!(page.replace("<!>", "").contains("At least 8 characters"), "{page}");
    let res = app.call(&app.client(), "complete_setup", &[("token", &token), ("password", "sloth-dune")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_the_policy_on_signs_out_members_without_two_factor() {
    let app = TestApp::spawn().await;
    let (owner, _, _) = enrolled_owner(&app, "Strict").await;
    common::add_member(&app, "Strict", "casual@strict.example", "member").await;
    let (member, location) = app.password_step("casual@strict.example").await;
    assert_eq!(location, "/overview");
    assert_eq!(app.get(&member, "/overview").await.status(), StatusCode::OK);
    let res = app.call(&owner, "set_two_factor_policy", &[("required", "on")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(app.get(&member, "/overview").await.status(), StatusCode::SEE_OTHER, "signed out at once");
    assert_eq!(app.get(&owner, "/overview").await.status(), StatusCode::OK, "the owner has 2FA and stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_removes_the_factor_ends_sessions_and_forces_enrollment() {
    let app = TestApp::spawn().await;
    let (owner, _, owner_secret) = enrolled_owner(&app, "Reset").await;
    let member = "lost-phone@reset.example";
    common::add_member(&app, "Reset", member, "member").await;
    let (m, _) = app.password_step(member).await;
    let m_secret = app.enroll(&m).await;
    let members: app::model::MembersView = app.call(&owner, "list_members", &[]).await.json().await.unwrap();
    let target = members.members.iter().find(|x| x.email == member).unwrap();
    assert!(target.two_factor_enabled);
    // Only admins: the member cannot list or reset anyone.
    assert_eq!(app.call(&m, "list_members", &[]).await.status(), StatusCode::FORBIDDEN);
    let forged = app.call(&m, "reset_member_two_factor", &[("membership_id", &target.membership_id)]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Step-up required.
    app.clock.advance_ms(11 * MINUTE_MS);
    let res = app.call(&owner, "reset_member_two_factor", &[("membership_id", &target.membership_id)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let step = app.call(&owner, "step_up", &[("password", PASSWORD), ("code", &app.code(&owner_secret))]).await;
    assert_eq!(step.status(), StatusCode::OK, "{}", step.text().await.unwrap());
    let res = app.call(&owner, "reset_member_two_factor", &[("membership_id", &target.membership_id)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(app.get(&m, "/overview").await.status(), StatusCode::SEE_OTHER, "the member's sessions ended");
    app.wait_for_mail(member, "two-factor authentication was reset").await;
    let (again, location) = app.password_step(member).await;
    assert_eq!(location, "/two-factor/setup", "must enroll again");
    let res = app.call(&again, "verify_second_factor", &[("code", &app.code(&m_secret))]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "the old authenticator is gone");
    let events = app.events(&owner).await;
    assert!(events.iter().any(|(a, _, _)| a == "two_factor.reset_by_admin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_reset_by_email_is_single_use_expires_and_keeps_the_second_factor() {
    let app = TestApp::spawn().await;
    let (_, email, secret) = enrolled_owner(&app, "Forgot").await;
    // Unknown and known emails get the same answer.
    let unknown = app.call(&app.client(), "request_password_reset", &[("email", "nobody@forgot.example")]).await;
    let known = app.call(&app.client(), "request_password_reset", &[("email", &email)]).await;
    assert_eq!(unknown.status(), known.status());
    assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap());
    let mail = app.wait_for_mail(&email, "/reset-password/").await;
    let token = mail
        .split("/reset-password/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect::<String>();
    assert!(token.len() >= 43, "≥ 256 bits");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM account_tokens WHERE token_hash = $1")
        .bind(&token)
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "only a hash of the token is stored");

    let new_password = "granite-pelican-orchard-58";
    let res =
        app.call(&app.client(), "complete_password_reset", &[("token", &token), ("password", new_password)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let again =
        app.call(&app.client(), "complete_password_reset", &[("token", &token), ("password", new_password)]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "single use");
    // The second factor is still asked.
    let client = app.client();
    let res = app.call(&client, "sign_in", &[("email", &email), ("password", new_password)]).await;
    assert_eq!(res.headers().get("location").unwrap(), "/sign-in/two-factor");
    let res = app.call(&client, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::OK);

    // A link expires after 30 minutes. (A new link comes at most every 15 minutes.)
    app.clock.advance_ms(app::backend::identity::password_reset::EMAIL_EVERY_MS);
    app.call(&app.client(), "request_password_reset", &[("email", &email)]).await;
    let late = loop {
        let mails: Vec<String> =
            app.outbox().iter().map(|m| common::unfold_qp(m)).filter(|m| m.contains("/reset-password/")).collect();
        if mails.len() >= 2 {
            break mails[1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let late_token = late
        .split("/reset-password/")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect::<String>();
    app.clock.advance_ms(30 * MINUTE_MS);
    let res = app
        .call(
            &app.client(),
            "complete_password_reset",
            &[("token", &late_token), ("password", "another-quiet-harbour-12")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_are_throttled_per_step_and_suspended_after_100() {
    let app = TestApp::spawn().await;
    let (_, email, secret) = enrolled_owner(&app, "Throttle").await;
    let (client, _) = app.password_step(&email).await;
    for _ in 0..5 {
        let res = app.call(&client, "verify_second_factor", &[("code", "000000")]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = app.call(&client, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a 6th try in the step is refused even if right");
    assert!(res.headers().get("retry-after").is_some());
    app.next_step();
    let res = app.call(&client, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::OK, "the next step allows it again");

    // 100 consecutive failures suspend the factor until a reset.
    for i in 0..100 {
        if i % 5 == 0 {
            app.next_step();
        }
        let (c, _) = app.password_step(&email).await;
        let res = app.call(&c, "verify_second_factor", &[("code", "000000")]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "failure {i}");
    }
    app.next_step();
    let (c, _) = app.password_step(&email).await;
    let res = app.call(&c, "verify_second_factor", &[("code", &app.code(&secret))]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("suspended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_not_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    let (client, _, secret) = enrolled_owner(&app, "AtRest").await;
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    let codes = {
        app.call(&client, "step_up", &[("password", PASSWORD), ("code", &app.code(&secret))]).await;
        app.call(&client, "regenerate_recovery_codes", &[]).await;
        app.fresh_recovery_codes(&client).await
    };
    assert_eq!(codes.len(), 10);
    let mut dump = String::new();
    for table in ["totp_factors", "recovery_codes", "sessions", "accounts", "audit_events", "account_tokens"] {
        let rows = sqlx::query(&format!("SELECT * FROM {table}")).fetch_all(&app.state.pool).await.unwrap();
        for row in rows {
            use sqlx::{Column as _, Row as _};
            for col in row.columns() {
                if let Ok(Some(v)) = row.try_get::<Option<String>, _>(col.ordinal()) {
                    dump.push_str(&v);
                    dump.push('\n');
                }
            }
        }
    }
    assert!(dump.contains("sign_in"), "the dump did read rows");
    assert!(!dump.to_uppercase().contains(&compact), "the TOTP secret is not in the database");
    for c in &codes {
        assert!(!dump.contains(c.as_str()) && !dump.contains(&c.replace('-', "")), "recovery code {c} in the database");
    }
    if common::backend_name() == "sqlite" {
        let raw = std::fs::read(app.settings.data_dir.join("rampart.db")).unwrap();
        let wal = std::fs::read(app.settings.data_dir.join("rampart.db-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            let text = String::from_utf8_lossy(&bytes).to_uppercase();
            assert!(!text.contains(&compact), "the TOTP secret is not in the database file");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_step_up_and_can_sign_out_other_sessions() {
    let app = TestApp::spawn().await;
    let (a, email) = app.signed_in("Change").await;
    let (b, _) = app.password_step(&email).await;
    let new_password = "harvest-mandolin-copper-44";
    let wrong = app
        .call(&a, "change_password", &[("current_password", "not-the-password-at-all"), ("new_password", new_password)])
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let short = app.call(&a, "change_password", &[("current_password", PASSWORD), ("new_password", "short-one")]).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY, "15 characters without required 2FA");
    let res = app
        .call(
            &a,
            "change_password",
            &[("current_password", PASSWORD), ("new_password", new_password), ("sign_out_others", "on")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert_eq!(app.get(&a, "/overview").await.status(), StatusCode::OK, "this session stays");
    assert_eq!(app.get(&b, "/overview").await.status(), StatusCode::SEE_OTHER, "the other one ended");
    app.wait_for_mail(&email, "password was changed").await;
    app.clock.advance_ms(11 * MINUTE_MS);
    let res = app
        .call(
            &a,
            "change_password",
            &[("current_password", new_password), ("new_password", "yet-another-calm-lagoon-31")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "step-up expired after 10 minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_warns_when_three_or_fewer_recovery_codes_are_left() {
    let app = TestApp::spawn().await;
    let (client, email, _) = enrolled_owner(&app, "Low").await;
    let codes = app.fresh_recovery_codes(&client).await;
    let overview: app::model::OverviewView = app.call(&client, "get_overview", &[]).await.json().await.unwrap();
    assert_eq!(overview.recovery_codes_left, Some(10));
    let page = app.get(&client, "/overview").await.text().await.unwrap();
    assert!(!page.contains("recovery code(s) left"));
    let mut last = client.clone();
    for code in &codes[..7] {
        let (c, _) = app.password_step(&email).await;
        let res = app.call(&c, "verify_second_factor", &[("code", code)]).await;
        assert_eq!(res.status(), StatusCode::OK);
        last = c;
    }
    let page = app.get(&last, "/overview").await.text().await.unwrap();
    // Leptos marks text boundaries with `<!>` in server-rendered HTML.
    let text = page.replace("<!>", "");
    assert!(text.contains("Only 3 recovery code(s) left"), "{page}");
}

/// An enrollment in progress is resumed by the browser that started it only: another session of the account
/// (someone who knows the password, at the enrollment step of a sign-in) would otherwise be shown the secret
/// the member is about to confirm, and hold their second factor from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrollment_in_progress_is_shown_to_no_other_session() {
    let app = TestApp::spawn().await;
    let (member, email) = app.signed_in("Enrol Apart").await;
    let start = |c: reqwest::Client| {
        let app = &app;
        async move {
            let res = app.call(&c, "start_two_factor_enrollment", &[]).await;
            assert_eq!(res.status(), StatusCode::OK);
            res.json::<app::model::TotpEnrollmentView>().await.unwrap().secret_base32
        }
    };
    let mine = start(member.clone()).await;
    let (other, _) = app.password_step(&email).await;
    let theirs = start(other.clone()).await;
    assert_ne!(theirs, mine, "another session is not shown the secret in progress");
    // Each browser resumes its own (the later start replaced the secret: the member's resumes as a new one).
    assert_eq!(start(other.clone()).await, theirs);
    let again = start(member.clone()).await;
    assert_ne!(again, mine);
    assert_ne!(again, theirs);
    assert_eq!(start(member.clone()).await, again);
    let ok = app.call(&member, "confirm_two_factor_enrollment", &[("code", &app.code(&again))]).await;
    assert_eq!(ok.status(), StatusCode::OK, "{}", ok.text().await.unwrap());
}
