//! Short-lived certificates at the gateway: valid, expired (a live session ends with its certificate), another
//! CA, another principal, issued before a panic (also on a connection that waited), and the tenant's
//! "certificates only" setting.

use super::{batch, details, keygen, view, with_key};
use crate::common::{self, TestApp, PASSWORD};
use std::path::{Path, PathBuf};

/// Issues a certificate for `public` (a fresh step-up with a code first); writes it beside the key.
async fn certificate(app: &TestApp, c: &reqwest::Client, secret: &str, key: &Path, public: &str) -> PathBuf {
    app.clock.advance_ms(31_000); // a fresh TOTP code each time
    let step = app.call(c, "step_up", &[("password", PASSWORD), ("code", &app.code(secret))]).await;
    assert!(step.status().is_success());
    let res = app.call(c, "issue_ssh_certificate", &[("public_key", public)]).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    let fingerprint = app::backend::ssh::keys::parse(public).unwrap().fingerprint;
    let v = view(app, c).await;
    let cert = v.certificates.iter().find(|c| c.fingerprint == fingerprint).unwrap();
    let path = PathBuf::from(format!("{}-cert.pub", key.display()));
    std::fs::write(&path, format!("{}\n", cert.certificate)).unwrap();
    path
}

/// An organisation whose owner has two-factor (its secret returned) and certificates of 12 hours; a scratch
/// directory and the owner's SFTP user name.
async fn certifying(name: &str) -> (TestApp, reqwest::Client, String, tempfile::TempDir, String) {
    let app = TestApp::spawn().await;
    // The SSH library also checks a certificate's window against the real clock: the server's clock starts
    // behind it and certificates live 12 hours, so what it issues is valid by both while the test moves its clock.
    app.clock.advance_ms(-20 * 60_000);
    let (owner, _) = app.signed_in(name).await;
    let secret = app.enroll(&owner).await;
    app.clock.advance_ms(31_000);
    let step = app.call(&owner, "step_up", &[("password", PASSWORD), ("code", &app.code(&secret))]).await;
    assert!(step.status().is_success());
    let form = [("policy", "standard"), ("cert_minutes", "720")];
    assert!(app.call(&owner, "set_ssh_key_policy", &form).await.status().is_success());
    let user = view(&app, &owner).await.sftp.unwrap().user;
    (app, owner, secret, tempfile::tempdir().unwrap(), user)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_open_the_gateway_until_they_expire_or_a_panic() {
    let (app, owner, secret, dir, user) = certifying("Sftp Certs").await;

    // A key nobody registered, with a certificate of the tenant's CA: in.
    let (key, public) = keygen(dir.path(), "short").await;
    let cert = certificate(&app, &owner, &secret, &key, &public).await;
    let run = batch(&app, &user, &key, Some(&cert), dir.path(), "ls\n").await;
    assert!(run.ok, "{} {:?}", run.stderr, details(&app, "sftp.sign_in").await);
    let opened = details(&app, "sftp.session_opened").await;
    assert!(opened[0].1.contains("by certificate 1"), "{opened:?}");

    // Another member's user name with this certificate: the principal is not theirs.
    common::add_member(&app, "Sftp Certs", "second@certs.example", "admin").await;
    let other_user = user.replacen(&user[..user.rfind('@').unwrap()], "second@certs.example", 1);
    assert!(!batch(&app, &other_user, &key, Some(&cert), dir.path(), "ls\n").await.ok);

    // A certificate of another CA naming the right principal: refused.
    let (rogue, rogue_public) = keygen(dir.path(), "rogue").await;
    let _ = rogue_public;
    let (ca, _) = keygen(dir.path(), "other-ca").await;
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "rogue", "-n", &user, "-V", "-5m:+30m"])
        .arg(rogue.with_extension("pub"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rogue_cert = PathBuf::from(format!("{}-cert.pub", rogue.display()));
    assert!(!batch(&app, &user, &rogue, Some(&rogue_cert), dir.path(), "ls\n").await.ok);

    // "Certificates only": a plain key stops working, a certificate still does.
    let (plain, plain_public) = keygen(dir.path(), "plain").await;
    with_key(&app, &owner, &plain_public).await;
    assert!(batch(&app, &user, &plain, None, dir.path(), "ls\n").await.ok);
    let fresh = certificate(&app, &owner, &secret, &key, &public).await;
    let form = [("policy", "standard"), ("require_certs", "on"), ("cert_minutes", "720")];
    assert!(app.call(&owner, "set_ssh_key_policy", &form).await.status().is_success());
    assert!(view(&app, &owner).await.sftp.unwrap().require_certs);
    assert!(!batch(&app, &user, &plain, None, dir.path(), "ls\n").await.ok);
    assert!(batch(&app, &user, &key, Some(&fresh), dir.path(), "ls\n").await.ok);
    let form = [("policy", "standard"), ("cert_minutes", "720")];
    assert!(app.call(&owner, "set_ssh_key_policy", &form).await.status().is_success());

    // The panic button: SFTP paused, certificates issued before it refused for good.
    app.clock.advance_ms(31_000);
    let step = app.call(&owner, "step_up", &[("password", PASSWORD), ("code", &app.code(&secret))]).await;
    assert!(step.status().is_success());
    let res = app.call(&owner, "press_panic_button", &[("keys", "freeze"), ("confirm", "PANIC")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert!(view(&app, &owner).await.sftp.unwrap().paused);
    assert!(!batch(&app, &user, &plain, None, dir.path(), "ls\n").await.ok, "paused");
    assert!(app.call(&owner, "resume_sftp", &[]).await.status().is_success());
    // A session that starts in the panic's millisecond counts as before it: the test's clock moves on first.
    app.clock.advance_ms(1_000);
    assert!(batch(&app, &user, &plain, None, dir.path(), "ls\n").await.ok, "plain keys work again");
    assert!(!batch(&app, &user, &key, Some(&fresh), dir.path(), "ls\n").await.ok, "issued before the panic");
    let after = certificate(&app, &owner, &secret, &key, &public).await;
    assert!(batch(&app, &user, &key, Some(&after), dir.path(), "ls\n").await.ok, "issued after it");
    // A session it opened lasts while it is valid; past its 12 hours, the session ends and new ones are refused.
    let (mut live, session) = super::live(&app, &owner, &user, &key, Some(&after)).await;
    app.clock.advance_ms(721 * 60_000);
    let waited = std::time::Instant::now();
    let end: String = loop {
        let end: Option<String> = sqlx::query_scalar("SELECT end_reason FROM sftp_sessions WHERE id = $1")
            .bind(&session)
            .fetch_one(&app.state.pool)
            .await
            .unwrap();
        if let Some(end) = end {
            break end;
        }
        assert!(waited.elapsed() < std::time::Duration::from_secs(10), "the session outlived its certificate");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(end.contains("expired"), "{end}");
    let _ = live.kill().await;
    assert!(!batch(&app, &user, &key, Some(&after), dir.path(), "ls\n").await.ok);
    let refused = details(&app, "sftp.sign_in").await;
    assert!(refused.iter().any(|(_, d)| d.contains("principals")), "{refused:?}");
    assert!(refused.iter().filter(|(_, d)| d.contains("refused")).count() >= 2, "{refused:?}");
    assert!(refused.iter().any(|(_, d)| d.contains("before the panic")), "{refused:?}");
    assert!(refused.iter().any(|(_, d)| d.contains("requires short-lived certificates")), "{refused:?}");
}

/// A client that trusts any host key (the gateway's is the test server's own).
struct Trusting;

impl russh::client::Handler for Trusting {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// An SSH connection to the gateway (`Handle` is itself a future: it resolves when the session ends).
async fn connect(app: &TestApp) -> russh::client::Handle<Trusting> {
    let config = std::sync::Arc::new(russh::client::Config::default());
    russh::client::connect(config, ("127.0.0.1", app.sftp_port()), Trusting).await.unwrap()
}

/// A connection that waits between its first attempt and its certificate sees the member as they are when it
/// signs: a certificate issued before the panic button stays refused though the connection was opened (and its
/// member first looked up) before the panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_connection_meets_the_panic_that_came_meanwhile() {
    let (app, owner, secret, dir, user) = certifying("Sftp Waiting").await;
    let (key, public) = keygen(dir.path(), "waiting").await;
    let cert_path = certificate(&app, &owner, &secret, &key, &public).await;
    let (stranger, _) = keygen(dir.path(), "stranger").await;
    let load = |p: &Path| std::sync::Arc::new(russh::keys::load_secret_key(p, None).unwrap());

    // Before the panic: a first attempt with a key that is not the member's (the member is looked up).
    let mut conn = connect(&app).await;
    let probe = russh::keys::PrivateKeyWithHashAlg::new(load(&stranger), None);
    assert!(!conn.authenticate_publickey(user.as_str(), probe).await.unwrap().success());

    // The panic button, then SFTP resumed, while the connection waits.
    app.clock.advance_ms(31_000);
    let step = app.call(&owner, "step_up", &[("password", PASSWORD), ("code", &app.code(&secret))]).await;
    assert!(step.status().is_success());
    let res = app.call(&owner, "press_panic_button", &[("keys", "freeze"), ("confirm", "PANIC")]).await;
    assert!(res.status().is_success() || res.status().is_redirection());
    assert!(app.call(&owner, "resume_sftp", &[]).await.status().is_success());
    app.clock.advance_ms(1_000);

    let cert = russh::keys::load_openssh_certificate(&cert_path).unwrap();
    let admitted = conn.authenticate_openssh_cert(user.as_str(), load(&key), cert.clone()).await.unwrap();
    assert!(!admitted.success(), "a certificate issued before the panic let in");
    // On a new connection it is refused as well (as the test above shows for `sftp`).
    let mut again = connect(&app).await;
    assert!(!again.authenticate_openssh_cert(user.as_str(), load(&key), cert).await.unwrap().success());
    let refused = details(&app, "sftp.sign_in").await;
    assert!(refused.iter().filter(|(_, d)| d.contains("before the panic")).count() >= 2, "{refused:?}");
}
