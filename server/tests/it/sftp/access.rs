//! Who gets into the gateway and for how long: refusals count as failed sign-ins; a live session ends when its
//! key is removed, revoked upstream by the sync, or an admin ends it — and the next connection is refused.

use super::{at_least, batch, count, details, keygen, live, view, with_key};
use crate::common::{self, TestApp};
use crate::ssh_keys::{stand_in, StubUser};
use std::time::{Duration, Instant};

/// Waits until the server ended the session (its end recorded after the connection closed); returns how long
/// that took. Then the client's next command fails: the connection is gone. (`sftp -b -` only notices a closed
/// connection when it next reads a command.)
async fn ended(app: &TestApp, mut child: tokio::process::Child, id: &str) -> Duration {
    let t = Instant::now();
    loop {
        let ended: Option<i64> = sqlx::query_scalar("SELECT ended_at FROM sftp_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
        if ended.is_some() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "the session was not closed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = t.elapsed();
    use tokio::io::AsyncWriteExt as _;
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(b"ls\n").await;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(!status.success(), "the connection is gone");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_count_and_removed_keys_end_live_sessions() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Sftp Access").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "owner").await;
    let (stranger, _) = keygen(dir.path(), "stranger").await;
    let user = with_key(&app, &owner, &public).await;

    // A key that is not the member's: refused after the delay, one failed sign-in for the connection.
    let t = Instant::now();
    let run = batch(&app, &user, &stranger, None, dir.path(), "ls\n").await;
    assert!(!run.ok && t.elapsed() >= Duration::from_millis(900), "{:?}", t.elapsed());
    let refused = at_least(&app, "sftp.sign_in", 1).await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].1.contains("no registered key"), "{refused:?}");
    // An unknown user: a failed sign-in without tenant; no password method is even offered.
    let run = batch(&app, "nobody@nowhere-000000", &key, None, dir.path(), "ls\n").await;
    assert!(!run.ok);
    let out = std::process::Command::new("ssh")
        .args(["-p", &app.sftp_port().to_string(), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password,keyboard-interactive"])
        .args(["-o", "IdentityAgent=none", &format!("{user}@127.0.0.1"), "true"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied (publickey)"), "only public keys");

    // A deactivated member and a closing tenant are refused with a recorded reason.
    sqlx::query("UPDATE tenants SET closes_at = 1 WHERE name = 'Sftp Access'").execute(&app.state.pool).await.unwrap();
    assert!(!batch(&app, &user, &key, None, dir.path(), "ls\n").await.ok);
    sqlx::query("UPDATE tenants SET closes_at = NULL WHERE name = 'Sftp Access'")
        .execute(&app.state.pool)
        .await
        .unwrap();
    assert!(details(&app, "sftp.sign_in").await.iter().any(|(_, d)| d.contains("closing")));
    let deactivate = "UPDATE memberships SET deactivated_at = $1 WHERE tenant_id = (SELECT id FROM tenants WHERE name = 'Sftp Access')";
    sqlx::query(deactivate).bind(1_i64).execute(&app.state.pool).await.unwrap();
    assert!(!batch(&app, &user, &key, None, dir.path(), "ls\n").await.ok);
    sqlx::query(deactivate).bind(None::<i64>).execute(&app.state.pool).await.unwrap();
    assert!(details(&app, "sftp.sign_in").await.iter().any(|(_, d)| d.contains("deactivated")));

    // In; then the key is removed on the console: the live session ends at once, the next connection fails.
    let (mut child, id) = live(&app, &owner, &user, &key, None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(child.try_wait().unwrap().is_none(), "the client is still connected");
    let key_id = view(&app, &owner).await.keys[0].id.clone();
    assert!(app.call(&owner, "remove_ssh_key", &[("ssh_key_id", &key_id)]).await.status().is_success());
    let took = ended(&app, child, &id).await;
    assert!(took < Duration::from_secs(3), "closed in {took:?}");
    assert!(!batch(&app, &user, &key, None, dir.path(), "ls\n").await.ok);
    // Its end is recorded with the reason.
    let closed = at_least(&app, "sftp.session_closed", 1).await;
    assert!(closed.last().unwrap().1.contains("removed"), "{closed:?}");

    // An admin ends a session from the SSH keys page.
    let (key2, public2) = keygen(dir.path(), "owner2").await;
    with_key(&app, &owner, &public2).await;
    let (child, id) = live(&app, &owner, &user, &key2, None).await;
    let session = view(&app, &owner).await.sftp.unwrap().sessions[0].clone();
    assert_eq!(session.id, id);
    assert_eq!(session.via, "key");
    let res = app.call(&owner, "end_sftp_session", &[("sftp_session_id", &session.id)]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    ended(&app, child, &id).await;
    assert_eq!(count(&app, "sftp.session_ended").await, 1);
    at_least(&app, "sftp.session_closed", 2).await;
    assert!(view(&app, &owner).await.sftp.unwrap().sessions.is_empty());

    // A blocked address gets no handshake (the network rules apply as on the console).
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE name = 'Sftp Access'")
        .fetch_one(&app.state.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO ip_blocks (id, tenant_id, cidr, reason, created_at, created_by) \
         VALUES ('b1', $1, '127.0.0.1/32', 'test', 0, 'test')",
    )
    .bind(&tenant)
    .execute(&app.state.pool)
    .await
    .unwrap();
    app.state.access_changed();
    assert!(!batch(&app, &user, &key2, None, dir.path(), "ls\n").await.ok);
    let refused = at_least(&app, "sftp.sign_in", 5).await;
    assert!(refused.iter().any(|(_, d)| d.contains("network rules")), "{refused:?}");

    // An address blocked automatically after too many failed sign-ins gets no handshake at all.
    sqlx::query("DELETE FROM ip_blocks").execute(&app.state.pool).await.unwrap();
    app.state.access_changed();
    assert!(batch(&app, &user, &key2, None, dir.path(), "ls\n").await.ok, "unblocked");
    sqlx::query("INSERT INTO ip_auto_blocks (ip, blocked_until, started_at) VALUES ('127.0.0.1', $1, 0)")
        .bind(i64::MAX / 2)
        .execute(&app.state.pool)
        .await
        .unwrap();
    app.state.access_changed();
    let run = batch(&app, &user, &key2, None, dir.path(), "ls\n").await;
    assert!(!run.ok && !run.stderr.contains("Permission denied"), "refused before authentication: {}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_removed_on_github_ends_its_session_at_the_next_sync() {
    let (url, stub) = stand_in().await;
    let app = TestApp::spawn_with(move |s| {
        s.github_base_url = url.clone();
        s.github_api_url = url;
    })
    .await;
    let (owner, _) = app.signed_in("Sftp Github").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "gh").await;
    stub.lock().unwrap().users.insert("octo".into(), StubUser { id: 7, keys: vec![(1, public.clone())] });
    assert!(app.call(&owner, "link_github", &[("github_user", "octo")]).await.status().is_success());
    let user = view(&app, &owner).await.sftp.unwrap().user;
    assert_eq!(view(&app, &owner).await.keys.len(), 1);
    let (child, id) = live(&app, &owner, &user, &key, None).await;

    stub.lock().unwrap().users.get_mut("octo").unwrap().keys.clear();
    let membership: String =
        sqlx::query_scalar("SELECT membership_id FROM ssh_github_links").fetch_one(&app.state.pool).await.unwrap();
    app::backend::ssh::sync::sync_link(&app.state, &membership).await.unwrap();
    let took = ended(&app, child, &id).await;
    assert!(took < Duration::from_secs(3), "closed in {took:?}");
    assert!(!batch(&app, &user, &key, None, dir.path(), "ls\n").await.ok, "the next connection is refused");
    let last_used: Option<i64> =
        sqlx::query_scalar("SELECT last_used_at FROM ssh_keys").fetch_one(&app.state.pool).await.unwrap();
    assert!(last_used.is_some(), "the key's last use is shown");
    let _ = common::PASSWORD;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_ten_attempts_a_connection_and_silent_ones_are_closed() {
    let app = TestApp::spawn_with(|s| s.sftp_idle_seconds = 2).await;
    let (owner, _) = app.signed_in("Sftp Limits").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "owner").await;
    let user = with_key(&app, &owner, &public).await;

    // Twelve keys that are not the member's: the server stops listening after ten.
    let mut cmd = std::process::Command::new("ssh");
    cmd.args(["-p", &app.sftp_port().to_string(), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"])
        .args(["-o", "LogLevel=DEBUG", "-o", &format!("User={user}")]);
    for i in 0..12 {
        let (k, _) = keygen(dir.path(), &format!("stranger{i}")).await;
        cmd.arg("-i").arg(k);
    }
    let out = tokio::task::spawn_blocking(move || cmd.args(["127.0.0.1", "true"]).output().unwrap()).await.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let offered = log.matches("Offering public key").count();
    assert!(!out.status.success());
    assert!((1..=10).contains(&offered), "{offered} keys offered:\n{log}");
    let tried = |name: &str| log.lines().any(|l| l.contains("Offering public key") && l.contains(name));
    assert!(!tried("stranger11"), "the twelfth key never got a try");

    // A session that stays silent past `sftp_idle_seconds` is closed by the server.
    let (child, id) = live(&app, &owner, &user, &key, None).await;
    let took = ended(&app, child, &id).await;
    assert!(took < Duration::from_secs(6), "closed after {took:?}");
}
