//! The SFTP gateway end to end with Debian's OpenSSH `sftp` in batch mode: the vault as a file system (put, get
//! byte-equal, ls, versioned put, mkdir, rename, rm to the bin), `..` refused, another tenant invisible, a
//! read-only member's put refused; who gets in (`access`) and certificates (`certs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod certs;
mod reread;

use crate::common::{self, TestApp};
use app::model::SshKeysView;
use reqwest::StatusCode;
use std::path::{Path, PathBuf};

/// A key pair made by `ssh-keygen` in `dir`; returns the private key's path and the public line.
pub async fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = tokio::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_owned())
}

/// What `sftp -b` did.
pub struct Batch {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// The `sftp` command line for `user` with `key` (and `cert`), no agent, no other key, no host check.
pub fn sftp_command(app: &TestApp, user: &str, key: &Path, cert: Option<&Path>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sftp");
    cmd.args(["-P", &app.sftp_port().to_string(), "-i"])
        .arg(key)
        .args(["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes"])
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
        .args(["-o", "ConnectTimeout=20", "-o", &format!("User={user}")]);
    if let Some(cert) = cert {
        cmd.arg("-o").arg(format!("CertificateFile={}", cert.display()));
    }
    cmd.kill_on_drop(true);
    cmd
}

/// A live `sftp` session (its batch is stdin, kept open) and its id, once the server lists it.
pub async fn live(
    app: &TestApp,
    admin: &reqwest::Client,
    user: &str,
    key: &std::path::Path,
    cert: Option<&std::path::Path>,
) -> (tokio::process::Child, String) {
    let before: Vec<String> = view(app, admin).await.sftp.unwrap().sessions.into_iter().map(|s| s.id).collect();
    let child = sftp_command(app, user, key, cert)
        .args(["-b", "-", "127.0.0.1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    loop {
        let now = view(app, admin).await.sftp.unwrap().sessions;
        if let Some(s) = now.into_iter().find(|s| !before.contains(&s.id)) {
            return (child, s.id);
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(20), "the session never showed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Runs `commands` with `sftp -b` in `cwd`.
pub async fn batch(app: &TestApp, user: &str, key: &Path, cert: Option<&Path>, cwd: &Path, commands: &str) -> Batch {
    let file = cwd.join(format!("batch-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, commands).unwrap();
    let out = sftp_command(app, user, key, cert)
        .arg("-b")
        .arg(&file)
        .arg("127.0.0.1")
        .current_dir(cwd)
        .output()
        .await
        .unwrap();
    Batch {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub async fn view(app: &TestApp, c: &reqwest::Client) -> SshKeysView {
    let res = app.call(c, "get_ssh_keys", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Adds a pasted key and returns the member's SFTP user name.
pub async fn with_key(app: &TestApp, c: &reqwest::Client, public: &str) -> String {
    let res = app.call(c, "add_ssh_key", &[("public_key", public)]).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    view(app, c).await.sftp.expect("the gateway runs").user
}

pub async fn count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
        .bind(action)
        .fetch_one(&app.state.pool)
        .await
        .unwrap()
}

/// The details of the events of `action`, oldest first, once there are at least `n` (a connection's end is
/// recorded just after the client sees it close).
pub async fn at_least(app: &TestApp, action: &str, n: usize) -> Vec<(String, String)> {
    for _ in 0..100 {
        let rows = details(app, action).await;
        if rows.len() >= n {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    details(app, action).await
}

/// The details of the events of `action`, oldest first.
pub async fn details(app: &TestApp, action: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT actor, detail FROM audit_events WHERE action = $1 ORDER BY seq")
        .bind(action)
        .fetch_all(&app.state.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_is_a_file_system_over_sftp() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Sftp Files").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "owner").await;
    let user = with_key(&app, &owner, &public).await;
    let fingerprint = view(&app, &owner).await.keys[0].fingerprint.clone();

    // The host key: made on first start, private to the server, its fingerprint on the page as ssh-keygen says.
    let host_key = app.settings.data_dir.join("secrets/sftp_host_ed25519");
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&host_key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let out = std::process::Command::new("ssh-keygen").arg("-lf").arg(&host_key).output().unwrap();
    let shown = view(&app, &owner).await.sftp.unwrap().host_key_fingerprint;
    assert!(String::from_utf8_lossy(&out.stdout).contains(&shown), "{shown}");

    let v1: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let v2: Vec<u8> = (0..5_000_000u32).map(|i| (i * 13 % 241) as u8).collect();
    std::fs::write(dir.path().join("v1.bin"), &v1).unwrap();
    std::fs::write(dir.path().join("v2.bin"), &v2).unwrap();
    let run = batch(
        &app,
        &user,
        &key,
        None,
        dir.path(),
        "mkdir reports\nput v1.bin reports/data.bin\nput v2.bin reports/data.bin\nls -l reports\n\
         get reports/data.bin back.bin\nrename reports/data.bin reports/kept.bin\nmkdir empty\nls\n",
    )
    .await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read(dir.path().join("back.bin")).unwrap(), v2, "get is byte-equal to the last put");
    assert!(run.stdout.contains("5000000") && run.stdout.contains("data.bin"), "{}", run.stdout);
    assert!(run.stdout.contains("empty") && run.stdout.contains("reports"), "{}", run.stdout);

    // The console sees what SFTP did: one file, two versions, renamed; the same encryption (read back over HTTPS).
    let listing: app::model::VaultListView =
        app.call(&owner, "list_vault", &[("folder", "reports/")]).await.json().await.unwrap();
    assert_eq!(listing.files.len(), 1);
    let file = &listing.files[0];
    assert_eq!((file.name.as_str(), file.versions, file.size), ("kept.bin", 2, 5_000_000));
    let body = owner.get(app.url(&format!("/vault/files/{}/download", file.id))).send().await.unwrap();
    assert_eq!(body.bytes().await.unwrap().as_ref(), v2.as_slice());
    let blob = common::vault::stored_blob(&app, &file.id).await;
    let stored = common::vault::read_blob(&app, &blob).await.unwrap();
    assert!(stored.len() > v2.len() && !stored.windows(32).any(|w| w == &v2[1000..1032]), "encrypted at rest");

    // rm moves to the bin (restorable); rmdir only removes an empty folder.
    let run =
        batch(&app, &user, &key, None, dir.path(), "rm reports/kept.bin\nrmdir empty\n-rmdir nothing-here\n").await;
    assert!(run.ok, "{}", run.stderr);
    let bin: app::model::VaultListView =
        app.call(&owner, "list_vault", &[("deleted", "1")]).await.json().await.unwrap();
    assert_eq!(bin.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["kept.bin"]);

    // `..` and symbolic links are refused; nothing climbs out of the vault's root.
    for cmd in ["cd ..", "get ../etc/passwd x", "ls /..", "symlink a b", "get /reports/../../x y"] {
        let run = batch(&app, &user, &key, None, dir.path(), &format!("{cmd}\n")).await;
        assert!(!run.ok, "{cmd} must fail: {}", run.stdout);
    }

    // Every session and operation is in the access history, with the key's fingerprint.
    assert!(count(&app, "sftp.session_opened").await >= 3);
    let closed = at_least(&app, "sftp.session_closed", 4).await;
    assert!(closed.iter().any(|(_, d)| d.contains("8000000 bytes in")), "{closed:?}");
    for action in
        ["vault.upload", "vault.download", "vault.rename", "vault.delete", "vault.folder_created", "sftp.list"]
    {
        let rows = details(&app, action).await;
        assert!(!rows.is_empty(), "{action}");
        let over_sftp: Vec<_> = rows.iter().filter(|(actor, _)| actor.contains("(SFTP, ")).collect();
        assert!(!over_sftp.is_empty(), "{action}: {rows:?}");
        assert!(over_sftp.iter().all(|(actor, _)| actor.contains(&fingerprint)), "{action}: {rows:?}");
    }
    assert_eq!(count(&app, "vault.folder_removed").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_apart_and_a_read_only_member_cannot_put() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Sftp Apart").await;
    let (other, _) = app.signed_in("Sftp Other").await;
    app.uploaded(&other, "", "other-secret.txt", b"not yours").await;
    app.uploaded(&owner, "", "ours.txt", b"ours").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "owner").await;
    let user = with_key(&app, &owner, &public).await;
    let run = batch(&app, &user, &key, None, dir.path(), "ls\n").await;
    assert!(run.ok && run.stdout.contains("ours.txt") && !run.stdout.contains("other-secret"), "{}", run.stdout);
    let run = batch(&app, &user, &key, None, dir.path(), "get other-secret.txt x\n").await;
    assert!(!run.ok && !dir.path().join("x").exists());

    // A member who reads the vault but may not write it: ls and get work, put is refused and stores nothing.
    common::add_member(&app, "Sftp Apart", "reader@apart.example", "member").await;
    common::set_grants(&app, "reader@apart.example", "ssh_keys,vault_read").await;
    let (reader, _) = app.password_step("reader@apart.example").await;
    let (rkey, rpublic) = keygen(dir.path(), "reader").await;
    let ruser = with_key(&app, &reader, &rpublic).await;
    std::fs::write(dir.path().join("new.txt"), b"new").unwrap();
    let run = batch(&app, &ruser, &rkey, None, dir.path(), "get ours.txt mine.txt\nput new.txt new.txt\n").await;
    assert!(!run.ok && run.stderr.contains("ermission denied"), "{}", run.stderr);
    assert_eq!(std::fs::read(dir.path().join("mine.txt")).unwrap(), b"ours");
    let listing: app::model::VaultListView = app.call(&owner, "list_vault", &[]).await.json().await.unwrap();
    assert_eq!(listing.files.len(), 1, "nothing stored by the refused put");
    for cmd in ["mkdir d", "rm ours.txt", "rename ours.txt theirs.txt"] {
        let run = batch(&app, &ruser, &rkey, None, dir.path(), &format!("{cmd}\n")).await;
        assert!(!run.ok, "{cmd}");
    }
    // A writer who loses the grant while a file is open for writing stores nothing when it is closed: the
    // upload is slowed (`-l`, Kbit/s) so that the grant goes while the handle is open.
    common::set_grants(&app, "reader@apart.example", "ssh_keys,vault_read,vault_write").await;
    std::fs::write(dir.path().join("slow.bin"), vec![7u8; 800 * 1024]).unwrap();
    let file = dir.path().join("slow-batch");
    std::fs::write(&file, "put slow.bin slow.bin\n").unwrap();
    let mut cmd = sftp_command(&app, &ruser, &rkey, None);
    let upload = cmd.args(["-l", "800", "-b"]).arg(&file).arg("127.0.0.1").current_dir(dir.path()).output();
    let upload = tokio::spawn(upload);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert!(!upload.is_finished(), "the file is still being written (800 KiB at 100 KB/s)");
    common::set_grants(&app, "reader@apart.example", "ssh_keys,vault_read").await;
    let out = upload.await.unwrap().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing: app::model::VaultListView = app.call(&owner, "list_vault", &[]).await.json().await.unwrap();
    assert!(!listing.files.iter().any(|f| f.name == "slow.bin"), "stored after the grant went");
    // Losing the write grant mid-session applies to the next operation (not the next connection).
    common::set_grants(&app, "reader@apart.example", "ssh_keys").await;
    let run = batch(&app, &ruser, &rkey, None, dir.path(), "ls\n").await;
    assert!(!run.ok, "without vault_read the member does not get in");
    let refused = details(&app, "sftp.sign_in").await;
    assert!(refused.iter().any(|(_, d)| d.contains("may not read the vault")), "{refused:?}");
}
