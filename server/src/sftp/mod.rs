//! The SFTP gateway: `rampart serve` also speaks SSH on `sftp_addr` (127.0.0.1:2222 by default, `off` for
//! none), with an ed25519 host key made on first start beside the other secrets (`secrets/sftp_host_ed25519`,
//! mode 0600) and shown by fingerprint on the SSH keys page. `conn` authenticates, `fs` serves the vault.
//!
//! Limits (russh enforces them): public keys and certificates only, at most 10 attempts a connection, every
//! rejection delayed to 1 s, a connection silent for `sftp_idle_seconds` closed. The checker task ends live
//! sessions whose access changed (`gateway::sessions`).

mod conn;
pub mod fs;

use crate::startup::config::Settings;
use app::backend::platform::request::RequestMeta;
use app::backend::ssh::gateway::{self, sessions};
use app::backend::AppState;
use russh::keys::ssh_key::{private::Ed25519Keypair, HashAlg, LineEnding, PrivateKey};
use russh::MethodKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Where the host key is kept.
fn host_key_path(settings: &Settings) -> std::path::PathBuf {
    settings.data_dir.join("secrets/sftp_host_ed25519")
}

/// The gateway's host key: read, or made and written (0600) on first start.
pub fn host_key(settings: &Settings) -> Result<PrivateKey, String> {
    let path = host_key_path(settings);
    match std::fs::read_to_string(&path) {
        Ok(text) => PrivateKey::from_openssh(text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = rand::random();
            let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
            let text = key.to_openssh(LineEnding::LF).map_err(|e| e.to_string())?;
            crate::startup::secrets::write_private(&path, text.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The SSH configuration of the gateway.
fn config(settings: &Settings, key: PrivateKey) -> russh::server::Config {
    let mut methods = russh::MethodSet::empty();
    methods.push(MethodKind::PublicKey);
    russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-Rampart".into()),
        methods,
        auth_rejection_time: Duration::from_secs(1),
        // OpenSSH asks with "none" first to learn the methods: that is no attempt at a credential.
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        max_auth_attempts: 10,
        inactivity_timeout: Some(Duration::from_secs(settings.sftp_idle_seconds)),
        keepalive_interval: None,
        nodelay: true,
        // AES-GCM only (ring's, with the CPU's AES instructions): with ChaCha20-Poly1305 on offer every OpenSSH
        // client picks it, and it costs both ends several times more CPU per byte (a quarter of the server's time
        // in a download). Every OpenSSH since 6.2, PuTTY since 0.76 and WinSCP speak AES-GCM.
        preferred: russh::Preferred {
            cipher: std::borrow::Cow::Borrowed(&[russh::cipher::AES_256_GCM, russh::cipher::AES_128_GCM]),
            ..Default::default()
        },
        window_size: 8 * 1024 * 1024,
        maximum_packet_size: 65_535,
        ..Default::default()
    }
}

/// Binds the gateway and publishes where it is; returns the listener and the SSH configuration.
pub async fn bind(
    settings: &Settings,
    state: &AppState,
    addr: SocketAddr,
) -> Result<(TcpListener, Arc<russh::server::Config>), String> {
    let key = host_key(settings)?;
    let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("sftp_addr {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let host = url::Url::parse(&settings.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| bound.ip().to_string());
    let _ = state.ssh.sftp.set(app::backend::ssh::SftpEndpoint {
        host,
        port: bound.port(),
        host_key_fingerprint: fingerprint.clone(),
    });
    tracing::info!(addr = %bound, host_key = %fingerprint, "SFTP gateway listening");
    Ok((listener, Arc::new(config(settings, key))))
}

/// Accepts connections until `stop` flips; then ends every live session of this instance.
pub async fn serve(
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) {
    let checker = tokio::spawn(check_sessions(state.clone()));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    tokio::spawn(connection(socket, peer, config.clone(), state.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "SFTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    checker.abort();
    let _ = checker.await;
}

async fn connection(
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    config: Arc<russh::server::Config>,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) {
    let meta = RequestMeta { ip: peer.ip().to_canonical().to_string(), user_agent: String::new() };
    if state.ip_guard.blocked_until(&state.pool, &meta.ip, state.clock.now_ms()).await.is_some() {
        // Blocked for too many failed sign-ins: no handshake at all.
        return;
    }
    let outcome = Arc::new(Mutex::new(conn::Outcome::default()));
    // A second handle on the socket, to cut it when the session must end (`shutdown` ends it for both handles,
    // whether or not the client reads the disconnect message sent first).
    let Some((socket, cut)) = socket.into_std().ok().and_then(|s| {
        let dup = s.try_clone().ok()?;
        Some((tokio::net::TcpStream::from_std(s).ok()?, Arc::new(dup)))
    }) else {
        return;
    };
    let handler = conn::Conn::new(state.clone(), meta.clone(), outcome.clone(), cut);
    let reason = match russh::server::run_stream(config, socket, handler).await {
        Ok(running) => {
            let handle = running.handle();
            tokio::select! {
                r = running => match r {
                    Ok(()) => "closed by the client".to_owned(),
                    Err(e) => format!("connection ended: {e}"),
                },
                _ = stop.changed() => {
                    let _ = handle.disconnect(russh::Disconnect::ByApplication, "The server is stopping.".into(), "en".into()).await;
                    "the server stopped".to_owned()
                }
            }
        }
        Err(e) => format!("handshake failed: {e}"),
    };
    let o = std::mem::take(&mut *outcome.lock().unwrap_or_else(|p| p.into_inner()));
    let result = match (&o.session, &o.member) {
        (Some(id), _) => sessions::close(&state, id, &reason).await,
        (None, Some(member)) if o.tried && !o.recorded => {
            gateway::record_refusal(&state, member, &meta, "no registered key or valid certificate offered").await
        }
        (None, None) if o.tried && !o.user.is_empty() => gateway::record_unknown_user(&state, &o.user, &meta).await,
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "SFTP connection end not recorded");
    }
}

/// Checks the live sessions whenever access changes and every second; refreshes their figures every 5 s.
async fn check_sessions(state: AppState) {
    let mut round: u64 = 0;
    loop {
        tokio::select! {
            _ = state.sftp.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        round += 1;
        if state.sftp.count() == 0 {
            continue;
        }
        if let Err(e) = sessions::check_all(&state, round.is_multiple_of(5)).await {
            tracing::warn!(error = %e, "SFTP session check failed");
        }
    }
}
