//! The operator CLI as an operator runs it: the real binary, a real database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use crate::common::rampart;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(dir.path(), "sqlite://x.db")
        .env("RAMPART_SESSION_IDLE_MINUTES", "soon")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("session_idle_minutes"), "{err}");
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");

    let out = rampart(dir.path(), "mysql://nope").arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_created_and_listed_with_names_and_ids_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let out = rampart(dir.path(), &db).args(["migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = rampart(dir.path(), &db)
        .args(["tenant", "create", "--name", "Globex", "--owner", "hank@globex.example"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let link = text.lines().find(|l| l.contains("/setup/")).unwrap().trim();
    assert!(link.starts_with("https://127.0.0.1:8443/setup/"), "{link}");
    assert!(link.rsplit('/').next().unwrap().len() >= 43);

    let dup = rampart(dir.path(), &db)
        .args(["tenant", "create", "--name", "globex", "--owner", "other@globex.example"])
        .output()
        .unwrap();
    assert_eq!(dup.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("exists"));

    let bad =
        rampart(dir.path(), &db).args(["tenant", "create", "--name", "X", "--owner", "not-an-email"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let out = rampart(dir.path(), &db).args(["tenant", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("Globex"));
    assert!(!list.contains("hank"), "the list shows no tenant data beyond names and ids: {list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_added_by_tenant_name_with_a_setup_link_for_new_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let run = |args: &[&str]| rampart(dir.path(), &db).args(args).output().unwrap();
    let out = run(&["tenant", "create", "--name", "Initech", "--owner", "bill@initech.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = run(&["tenant", "add-member", "--tenant", "initech", "--email", "peter@initech.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("as member") && text.contains("/setup/"), "{text}");

    let again = run(&["tenant", "add-member", "--tenant", "Initech", "--email", "PETER@initech.example"]);
    assert_eq!(again.status.code(), Some(2), "already a member");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already a member"));
    let bad_role =
        run(&["tenant", "add-member", "--tenant", "Initech", "--email", "x@initech.example", "--role", "owner"]);
    assert_eq!(bad_role.status.code(), Some(2), "owners come only from tenant create");
    let no_tenant = run(&["tenant", "add-member", "--tenant", "Nope", "--email", "x@initech.example"]);
    assert_eq!(no_tenant.status.code(), Some(2));
    // The same (global) account joins a second tenant; it has no password yet, so it gets a setup link.
    let run2 = run(&["tenant", "create", "--name", "Chotchkies", "--owner", "joanna@chotchkies.example"]);
    assert!(run2.status.success());
    let out =
        run(&["tenant", "add-member", "--tenant", "Chotchkies", "--email", "peter@initech.example", "--role", "admin"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("as admin") && text.contains("/setup/"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_opens_a_console_locked_by_its_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let run = |args: &[&str]| rampart(dir.path(), &db).args(args).output().unwrap();
    let out = run(&["tenant", "create", "--name", "Vault-Tec", "--owner", "ops@vault-tec.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db).await.unwrap();
    sqlx::query("UPDATE tenants SET console_allowed_ips = '10.0.0.0/8'").execute(&pool).await.unwrap();

    let out = run(&["tenant", "open-console", "--tenant", "vault-tec"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Removed the console allow list (10.0.0.0/8)"));
    let left: String = sqlx::query_scalar("SELECT console_allowed_ips FROM tenants").fetch_one(&pool).await.unwrap();
    assert_eq!(left, "");
    let detail: String =
        sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'console_allow_list.update'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(detail.contains("operator break-glass"), "{detail}");
    assert_eq!(run(&["tenant", "open-console", "--tenant", "Nope"]).status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_closures_are_listed_with_ids_names_and_dates_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let run = |args: &[&str]| rampart(dir.path(), &db).args(args).output().unwrap();
    for (name, owner) in [("Umbrella", "albert@umbrella.example"), ("Aperture", "cave@aperture.example")] {
        let out = run(&["tenant", "create", "--name", name, "--owner", owner]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = run(&["tenant", "pending-closures"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("No closure is pending"));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db).await.unwrap();
    // 2026-12-01 00:00 UTC and 14 days later.
    sqlx::query(
        "UPDATE tenants SET closure_requested_at = 1796083200000, closure_requested_by = 'm', \
         closes_at = 1797292800000 WHERE name = 'Umbrella'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let id: String =
        sqlx::query_scalar("SELECT id FROM tenants WHERE name = 'Umbrella'").fetch_one(&pool).await.unwrap();
    let out = run(&["tenant", "pending-closures"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains(&id) && list.contains("Umbrella"), "{list}");
    assert!(list.contains("2026-12-01") && list.contains("2026-12-15"), "{list}");
    assert!(!list.contains("Aperture") && !list.contains("albert"), "nothing but the pending tenant: {list}");
}

/// `log_format = "json"`: every log line is one JSON object (a machine reads them); an unknown format is a
/// configuration error naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_can_be_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let out = rampart(dir.path(), &db).env("RAMPART_LOG_FORMAT", "yaml").arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log_format"));

    let server = common::process::serve(|| {
        let mut cmd = rampart(dir.path(), &db);
        cmd.env("RAMPART_LOG", "info").env("RAMPART_LOG_FORMAT", "json");
        cmd
    })
    .await
    .unwrap();
    let mut logged = Vec::new();
    for line in server.lines() {
        if line.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(v["level"].is_string() && v["timestamp"].is_string() && v["fields"]["message"].is_string(), "{v}");
            logged.push(v);
        }
    }
    drop(server);
    assert!(
        logged.iter().any(|v| v["fields"]["message"].as_str().unwrap().contains("self-signed development certificate")),
        "{logged:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_is_requested_from_the_command_line_and_opened_only_once_approved() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::database_url(dir.path()).await;
    let run = |args: &[&str]| rampart(dir.path(), &db).args(args).output().unwrap();
    let out = run(&["tenant", "create", "--name", "Initech", "--owner", "bill@initech.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&[
        "support",
        "request",
        "--tenant",
        "initech",
        "--operator",
        "Sam",
        "--reason",
        "ticket 7",
        "--hours",
        "80",
    ]);
    assert_eq!(out.status.code(), Some(2), "more than 72 hours");
    let out = run(&["support", "request", "--tenant", "Initech", "--operator", "Sam", "--reason", "ticket 7"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let id = text.split_whitespace().nth(2).unwrap().to_owned();
    let open = run(&["support", "open", "--request", &id]);
    assert_eq!(open.status.code(), Some(2), "not approved yet");
    assert!(String::from_utf8_lossy(&open.stderr).contains("No approved"));
    // Approved (as an owner would from the console), it prints a one-time link.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db).await.unwrap();
    sqlx::query("UPDATE support_requests SET state = 'approved', until = $1 WHERE id = $2")
        .bind(i64::MAX / 2)
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let open = run(&["support", "open", "--request", &id]);
    assert!(open.status.success(), "{}", String::from_utf8_lossy(&open.stderr));
    assert!(String::from_utf8_lossy(&open.stdout).contains("/support/"));
}
