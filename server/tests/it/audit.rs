//! The access history that proves itself: the HMAC chain catches an edited, a removed and a truncated event
//! (in the console, the CLI and the backend alike), retention purges behind a checkpoint that keeps the rest
//! verifiable, the filters and cursor of the console page, and the streamed CSV / JSON exports whose rows a
//! customer can verify offline with the chain key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::common::audit::{activity, history, tenant_id, verify};

use crate::common::{TestApp, PASSWORD};
use app::backend::platform::clock::Clock as _;
use app::model::ChainReportView;
use reqwest::StatusCode;
use sqlx::Row as _;

async fn exec(app: &TestApp, sql: &str, chain: &str, seq: i64) -> u64 {
    sqlx::query(sql).bind(chain).bind(seq).execute(&app.state.pool).await.unwrap().rows_affected()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_reveals_an_edited_a_removed_and_a_truncated_event() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Chained").await;
    activity(&app, &email, 4).await;
    let t = tenant_id(&app, "Chained").await;
    let ok = verify(&app, &t).await;
    assert!(ok.ok, "{ok:?}");
    assert!(ok.checked >= 9, "{ok:?}");
    assert_eq!(ok.checked, ok.head_seq);

    // The console's button reports the same and records that it checked.
    let res = app.call(&owner, "verify_history", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let report: ChainReportView = res.json().await.unwrap();
    assert!(report.ok);

    // An edited row: found at its position, by the console, the backend and the CLI.
    let edit = "UPDATE audit_events SET ip = '198.51.100.7' WHERE tenant_id = $1 AND seq = $2";
    assert_eq!(exec(&app, edit, &t, 4).await, 1);
    let r = verify(&app, &t).await;
    assert!(!r.ok);
    assert_eq!(r.broken_seq, Some(4));
    assert!(r.problem.as_deref().unwrap().contains("altered"), "{r:?}");
    let report: ChainReportView = app.call(&owner, "verify_history", &[]).await.json().await.unwrap();
    assert_eq!(report.broken_seq, Some(4));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATABASE_URL", &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .env("RAMPART_LOG", "warn")
        .args(["audit", "verify", "--tenant", "Chained"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BROKEN") && stdout.contains("#4"), "{stdout}");

    // Put it back: intact again (the MAC covers the values, nothing else).
    let restore = sqlx::query("SELECT ip FROM audit_events WHERE tenant_id = $1 AND seq = 3")
        .bind(&t)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .try_get::<String, _>("ip")
        .unwrap();
    sqlx::query("UPDATE audit_events SET ip = $1 WHERE tenant_id = $2 AND seq = 4")
        .bind(&restore)
        .bind(&t)
        .execute(&app.state.pool)
        .await
        .unwrap();
    assert!(verify(&app, &t).await.ok, "restored");

    // A removed middle row.
    assert_eq!(exec(&app, "DELETE FROM audit_events WHERE tenant_id = $1 AND seq = $2", &t, 6).await, 1);
    let r = verify(&app, &t).await;
    assert_eq!(r.broken_seq, Some(6));
    assert!(r.problem.as_deref().unwrap().contains("missing"), "{r:?}");

    // A truncated tail, in another tenant: the separately stored head notices.
    let (_, other) = app.signed_in("Truncated").await;
    activity(&app, &other, 3).await;
    let t2 = tenant_id(&app, "Truncated").await;
    let before = verify(&app, &t2).await;
    assert!(before.ok, "{before:?}");
    let cut = "DELETE FROM audit_events WHERE tenant_id = $1 AND seq > $2";
    assert_eq!(exec(&app, cut, &t2, before.head_seq - 2).await, 2);
    let r = verify(&app, &t2).await;
    assert!(!r.ok);
    assert_eq!(r.broken_seq, Some(before.head_seq - 1));
    assert!(r.problem.as_deref().unwrap().contains("newest"), "{r:?}");

    // The CLI over every chain: the intact tenant-less chain passes, the broken ones are named.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .env_clear()
        .env("RAMPART_DATABASE_URL", &app.settings.database_url)
        .env("RAMPART_DATA_DIR", &app.settings.data_dir)
        .env("RAMPART_LOG", "warn")
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("BROKEN").count(), 2, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_and_api_batches_keep_one_linear_chain() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Busy").await;
    let t = tenant_id(&app, "Busy").await;
    let (_, key) = common::keys::create_key(&app, &owner, "read", &[]).await;
    let api = common::keys::api_client(&app);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (app_base, key, api) = (app.base.clone(), key.clone(), api.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let res = api.get(format!("{app_base}/api/v1/members")).bearer_auth(&key).send().await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "request {i}");
            }
        }));
    }
    // Console events in the same chain at the same time.
    for _ in 0..5 {
        let c = app.client();
        app.call(&c, "sign_in", &[("email", &email), ("password", "wrong-password-1")]).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    app.state.api_log.flush().await;
    let r = verify(&app, &t).await;
    assert!(r.ok, "{r:?}");
    assert!(r.checked >= 85, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_old_events_behind_a_checkpoint_that_still_verifies() {
    let app = TestApp::spawn().await;
    let (owner, email) = app.signed_in("Kept").await;
    activity(&app, &email, 3).await;
    let t = tenant_id(&app, "Kept").await;
    let old_head = verify(&app, &t).await.head_seq;

    // Bad values change nothing; a retention change needs a (fresh) step-up.
    app.clock.advance_ms(11 * 60_000);
    let res = app.call(&owner, "set_history_retention", &[("days", "400")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.call(&owner, "step_up", &[("password", PASSWORD)]).await;
    for bad in ["5", "99999", "soon"] {
        let res = app.call(&owner, "set_history_retention", &[("days", bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let res = app.call(&owner, "set_history_retention", &[("days", "100")]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.status());
    assert!(app.events(&owner).await.iter().any(|e| e.0 == "audit.retention" && e.1 == "success"));

    // 101 days later the first events are past retention; a fresh sign-in is not.
    app.clock.advance_ms(101 * 86_400_000);
    activity(&app, &email, 1).await;
    let purged =
        app::backend::audit::retention::purge_all(&app.state.pool, &app.state.keys, app.clock.now_ms()).await.unwrap();
    assert!(purged.deleted >= old_head as u64, "{purged:?}");
    let r = verify(&app, &t).await;
    assert!(r.ok, "{r:?}");
    assert!(r.first_seq > old_head, "checkpoint moved past the old events: {r:?}");
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = $1 AND created_at < $2")
        .bind(&t)
        .bind(app.clock.now_ms() - 100 * 86_400_000)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(left, 0);
    let fresh = app.client();
    let res = app.call(&fresh, "sign_in", &[("email", &email), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let events = app.events(&fresh).await;
    assert!(events.iter().any(|e| e.0 == "audit.purge"), "{events:?}");
    // A second run has nothing left to do, and the chain still verifies.
    let again =
        app::backend::audit::retention::purge_all(&app.state.pool, &app.state.keys, app.clock.now_ms()).await.unwrap();
    assert_eq!(again.deleted, 0);
    assert!(verify(&app, &t).await.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_filters_pages_and_exports_what_it_shows() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let (owner, email) = app.signed_in("Filtered").await;
    common::add_member(&app, "Filtered", "emp@filtered.example", "member").await;
    // Events from two networks (a trusted proxy tells the client address).
    for (i, ip) in ["203.0.113.5", "203.0.113.77", "198.51.100.9"].iter().enumerate() {
        app.clock.advance_ms(1000);
        let c = app.client();
        let res = c
            .post(app.url("/api/sign_in"))
            .header("origin", &app.base)
            .header("x-forwarded-for", *ip)
            .form(&[("email", email.as_str()), ("password", if i == 2 { "wrong-password-9" } else { PASSWORD })])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success() || res.status() == StatusCode::UNPROCESSABLE_ENTITY);
    }
    let all = history(&app, &owner, &[]).await;
    let member_id = all.members.iter().find(|m| m.label == email).unwrap().value.clone();
    let block = history(&app, &owner, &[("ip", "203.0.113.0/24")]).await;
    assert_eq!(block.events.len(), 2, "{:?}", block.events);
    assert!(block.events.iter().all(|e| e.ip.starts_with("203.0.113.")));
    let one = history(&app, &owner, &[("ip", "198.51.100.9"), ("outcome", "failure")]).await;
    assert_eq!(one.events.len(), 1);
    assert_eq!(one.events[0].detail, "wrong password");
    let mine = history(&app, &owner, &[("member", &member_id), ("action", "sign_in")]).await;
    assert!(mine.events.len() >= 4 && mine.events.iter().all(|e| e.actor == email && e.action == "sign_in"));
    let none = history(&app, &owner, &[("from", "2001-01-01"), ("to", "2001-01-02")]).await;
    assert!(none.events.is_empty());
    for (field, bad) in [("ip", "203.0.113.0/99"), ("from", "yesterday"), ("outcome", "maybe"), ("cursor", "x")] {
        let res = app.call(&owner, "get_history", &[(field, bad)]).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}={bad}");
    }

    // The cursor walks every event exactly once.
    // (From many addresses: one address failing this often is blocked for a while.)
    for i in 0..60 {
        app.clock.advance_ms(10);
        app.client()
            .post(app.url("/api/sign_in"))
            .header("origin", &app.base)
            .header("x-forwarded-for", format!("192.0.2.{i}"))
            .form(&[("email", email.as_str()), ("password", "wrong-password-2")])
            .send()
            .await
            .unwrap();
    }
    let total = history(&app, &owner, &[]).await;
    assert_eq!(total.events.len(), 50);
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = match &cursor {
            Some(c) => history(&app, &owner, &[("cursor", c)]).await,
            None => history(&app, &owner, &[]).await,
        };
        for e in &page.events {
            assert!(seen.insert(e.id.clone()), "seen twice: {}", e.id);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(seen.len() > 50);
    // A block that holds many events (served from the newest events) pages the same way: 60 in 192.0.2.0/24.
    let mut in_block = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut form = vec![("ip", "192.0.2.0/24")];
        if let Some(c) = &cursor {
            form.push(("cursor", c));
        }
        let page = history(&app, &owner, &form).await;
        assert!(page.events.iter().all(|e| e.ip.starts_with("192.0.2.")));
        in_block.extend(page.events.iter().map(|e| e.id.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(in_block.len(), 60);

    // The detail page of one event; another tenant's id is not found.
    let id = &block.events[0].id;
    let res = app.get(&owner, &format!("/access-history/{id}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("203.0.113.") && html.contains("Chain position"), "detail page");
    let (other, _) = app.signed_in("Elsewhere").await;
    let res = app.call(&other, "get_event", &[("event_id", id)]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // CSV export of the filtered set: announced count, attachment, every row verifiable offline.
    let res = owner.get(app.url("/access-history/export?format=csv&ip=203.0.113.0%2F24")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-rampart-rows"], "2");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"access-history-"));
    let csv = res.text().await.unwrap();
    let rows = parse_csv(&csv);
    assert_eq!(rows[0].join(","), app::backend::audit::export::CSV_COLUMNS);
    assert_eq!(rows.len(), 3);
    let t = tenant_id(&app, "Filtered").await;
    let (_, key) = app.state.keys.audit_chain_key(&t);
    for row in &rows[1..] {
        assert_eq!(offline_mac(&key, &t, row), row[13], "row {row:?} verifies offline");
    }
    readme_check_passes(&csv, &hex::encode(key), &t);
    // JSON of everything: count matches the page walk (plus the exports' own events).
    let res = owner.get(app.url("/access-history/export?format=json")).send().await.unwrap();
    let announced: usize = res.headers()["x-rampart-rows"].to_str().unwrap().parse().unwrap();
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["events"].as_array().unwrap().len(), announced);
    assert_eq!(doc["count"].as_u64().unwrap() as usize, announced);
    assert!(announced > seen.len());
    // Bad input: a clear error, no file.
    let res = owner.get(app.url("/access-history/export?format=xls")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.client().get(app.url("/access-history/export?format=csv")).send().await.unwrap();
    assert!(res.status().is_redirection() || res.status() == StatusCode::UNAUTHORIZED);
}

/// Splits RFC 4180 CSV (quoted fields may hold commas, quotes and line breaks) and undoes the formula guard.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows.into_iter()
        .map(|r| r.into_iter().map(|f| f.strip_prefix('\'').map(str::to_owned).unwrap_or(f)).collect())
        .collect()
}

/// The README's offline check, written independently of the server code.
fn offline_mac(key: &[u8; 32], chain: &str, row: &[String]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(b"rampart-audit-v1\n");
    // chain, seq, id, created_at_ms, account_id, actor, action, outcome, ip, user_agent, detail, key_id, prev_mac
    let fields = [
        chain, &row[1], &row[0], &row[3], &row[7], &row[6], &row[4], &row[5], &row[8], &row[9], &row[11], &row[10],
        &row[12],
    ];
    for f in fields {
        mac.update(format!("{}:", f.len()).as_bytes());
        mac.update(f.as_bytes());
        mac.update(b"\n");
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Runs the README's Python check ("Verifying an export offline") on the exported file, and makes sure it
/// would notice a wrong key.
fn readme_check_passes(csv: &str, key_hex: &str, chain: &str) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let code = readme.split("```python\n").nth(1).and_then(|r| r.split("```").next()).expect("the README's check");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("export.csv"), csv).unwrap();
    let script = format!("KEY = {key_hex:?}\nCHAIN = {chain:?}\n{code}\nprint(len(rows))\n");
    // python3 is a test prerequisite already (scripts/with-postgres.sh).
    let out = std::process::Command::new("python3").current_dir(dir.path()).args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "README check failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    let wrong = script.replacen(&format!("KEY = {key_hex:?}"), &format!("KEY = {:?}", "00".repeat(32)), 1);
    let out = std::process::Command::new("python3").current_dir(dir.path()).args(["-c", &wrong]).output().unwrap();
    assert!(!out.status.success(), "the README check accepts a wrong key");
}
