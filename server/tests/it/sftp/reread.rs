//! A file read back over SFTP (a read at an earlier offset than the last, as a client that seeks does) is the
//! version that was opened, even after the path got a new version meanwhile: never two versions spliced into
//! one read. OpenSSH's `sftp` only reads forward, so this drives the protocol with russh's client.

use super::{keygen, with_key};
use crate::common::TestApp;
use russh::keys::{load_secret_key, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

/// Trusts the test server's host key (the gateway's own is checked by the OpenSSH tests).
struct TestHost;

impl russh::client::Handler for TestHost {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_back_reads_the_version_that_was_opened() {
    let app = TestApp::spawn().await;
    let (owner, _) = app.signed_in("Sftp Reread").await;
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keygen(dir.path(), "owner").await;
    let user = with_key(&app, &owner, &public).await;
    let first: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = (0..200_000u32).map(|i| (i % 13) as u8 + 100).collect();
    app.uploaded(&owner, "", "ledger.bin", &first).await;

    let config = Arc::new(russh::client::Config::default());
    let mut ssh = russh::client::connect(config, ("127.0.0.1", app.sftp_port()), TestHost).await.unwrap();
    let private = Arc::new(load_secret_key(&key, None).unwrap());
    let auth = ssh.authenticate_publickey(user.as_str(), PrivateKeyWithHashAlg::new(private, None)).await.unwrap();
    assert!(auth.success(), "the member's key signs in");
    let channel = ssh.channel_open_session().await.unwrap();
    channel.request_subsystem(true, "sftp").await.unwrap();
    let sftp = SftpSession::new(channel.into_stream()).await.unwrap();

    let mut file = sftp.open("ledger.bin").await.unwrap();
    let mut head = vec![0u8; 70_000];
    file.read_exact(&mut head).await.unwrap();
    assert_eq!(head, first[..70_000]);
    // The path gets a new version while the handle is open.
    app.uploaded(&owner, "", "ledger.bin", &second).await;
    file.seek(std::io::SeekFrom::Start(10)).await.unwrap();
    let mut again = Vec::new();
    file.read_to_end(&mut again).await.unwrap();
    assert_eq!(again.len(), first.len() - 10);
    assert!(again == first[10..], "read back from the version opened, not the new one");
    // A new handle reads the new version.
    let mut fresh = Vec::new();
    sftp.open("ledger.bin").await.unwrap().read_to_end(&mut fresh).await.unwrap();
    assert!(fresh == second, "a new open reads the current version");
}
