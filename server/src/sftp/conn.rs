//! One SSH connection to the gateway: public-key or certificate authentication only (russh is offered no other
//! method), every decision taken by `app::backend::ssh::gateway`, then one `sftp` subsystem on the vault.
//! Unknown keys are turned away without counting (an `ssh` client offers every key it holds); a connection that
//! tried and never got in counts as one failed sign-in when it ends.

use super::fs::Fs;
use app::backend::platform::request::RequestMeta;
use app::backend::ssh::gateway::{self, sessions, Login, Member, Presented};
use app::backend::AppState;
use russh::keys::ssh_key::{certificate::CertType, Certificate, Fingerprint, HashAlg};
use russh::server::{Auth, ChannelOpenHandle, Msg, Session};
use russh::{Channel, ChannelId};
use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};

/// What the accept loop learns of a connection when it ends.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The member a user name named, if any.
    pub member: Option<Member>,
    /// The user name tried (for an unknown one).
    pub user: String,
    /// A credential was offered.
    pub tried: bool,
    /// A refusal was already recorded (no second one at the end).
    pub recorded: bool,
    /// The live session, once in.
    pub session: Option<String>,
}

pub struct Conn {
    pub state: AppState,
    pub meta: RequestMeta,
    pub outcome: Arc<Mutex<Outcome>>,
    /// The client's socket, to cut when the session must end.
    cut: Arc<std::net::TcpStream>,
    login: Option<Login>,
    fs_parts: Option<sessions::Opened>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    sftp_started: bool,
}

impl Conn {
    pub fn new(
        state: AppState,
        meta: RequestMeta,
        outcome: Arc<Mutex<Outcome>>,
        cut: Arc<std::net::TcpStream>,
    ) -> Self {
        Self { state, meta, outcome, cut, login: None, fs_parts: None, channels: HashMap::new(), sftp_started: false }
    }

    fn note(&self, f: impl FnOnce(&mut Outcome)) {
        if let Ok(mut o) = self.outcome.lock() {
            f(&mut o);
        }
    }

    /// The member `user` names: for a key offer, looked up once per user name and connection; for a signed
    /// attempt (`fresh`), read again, since a connection may wait before it signs (the panic button, a
    /// deactivation, certificates becoming required may have come since its first offer).
    async fn member(&mut self, user: &str, fresh: bool) -> Result<Option<Member>, russh::Error> {
        let known = self.outcome.lock().ok().and_then(|o| (o.user == user).then(|| o.member.clone()));
        if let (Some(m), false) = (known, fresh) {
            return Ok(m);
        }
        let found = gateway::find(&self.state, user).await.map_err(internal)?;
        self.note(|o| {
            o.user = user.chars().take(400).collect();
            o.member = found.clone();
        });
        Ok(found)
    }

    async fn admit(&mut self, member: &Member, presented: Presented) -> Result<Auth, russh::Error> {
        self.note(|o| o.tried = true);
        match gateway::admit(&self.state, member, &presented, &self.meta).await.map_err(internal)? {
            Some(login) => {
                self.login = Some(login);
                Ok(Auth::Accept)
            }
            None => {
                self.note(|o| o.recorded = true);
                Ok(Auth::reject())
            }
        }
    }
}

fn internal(e: app::model::AppError) -> russh::Error {
    tracing::error!(error = %e, "SFTP gateway: authentication could not be decided");
    russh::Error::Disconnect
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.note(|o| o.tried = true);
        // RSA signs with SHA-2 only (rsa-sha2-256/512): `ssh-rsa` (SHA-1) is refused before any signature.
        if *offer.algorithm == (russh::keys::Algorithm::Rsa { hash: None }) {
            return Ok(Auth::reject());
        }
        // Any other key of a known user may go on to prove itself (a certificate's key is stored nowhere).
        Ok(if self.member(user, false).await?.is_some() { Auth::Accept } else { Auth::reject() })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let Some(member) = self.member(user, true).await? else { return Ok(Auth::reject()) };
        let fingerprint = key.public_key.fingerprint(HashAlg::Sha256).to_string();
        if !gateway::knows_key(&self.state, &member, &fingerprint).await.map_err(internal)? {
            // Not one of the member's keys: maybe the next one offered is.
            return Ok(Auth::reject());
        }
        self.admit(&member, Presented::Key { fingerprint }).await
    }

    async fn auth_openssh_certificate(&mut self, user: &str, cert: &Certificate) -> Result<Auth, Self::Error> {
        let Some(member) = self.member(user, true).await? else { return Ok(Auth::reject()) };
        let key_fingerprint = cert.public_key().fingerprint(HashAlg::Sha256).to_string();
        let ca = member.ca_fingerprint.as_deref().and_then(|f| Fingerprint::from_str(f).ok());
        let now = u64::try_from(self.state.clock.now_ms().div_euclid(1000)).unwrap_or(0);
        let checked = match &ca {
            None => Err("the organisation has no certificate authority yet".to_owned()),
            Some(ca) => cert
                .validate_at(now, [ca])
                .map_err(|e| format!("certificate {} refused: {e}", cert.serial()))
                .and_then(|()| match cert.cert_type() {
                    CertType::User => Ok(()),
                    CertType::Host => Err("a host certificate is not a user certificate".to_owned()),
                })
                .and_then(|()| {
                    if cert.critical_options().is_empty() {
                        Ok(())
                    } else {
                        Err("the certificate carries critical options this gateway does not know".to_owned())
                    }
                }),
        };
        if let Err(why) = checked {
            self.note(|o| {
                o.tried = true;
                o.recorded = true;
            });
            gateway::record_refusal(&self.state, &member, &self.meta, &why).await.map_err(internal)?;
            return Ok(Auth::reject());
        }
        let presented = Presented::Certificate {
            serial: cert.serial(),
            key_fingerprint,
            principals: cert.valid_principals().to_vec(),
            valid_before: cert.valid_before(),
        };
        self.admit(&member, presented).await
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        let Some(login) = &self.login else { return Err(russh::Error::Disconnect) };
        let client = String::from_utf8_lossy(session.remote_sshid()).chars().take(200).collect::<String>();
        self.meta.user_agent = client;
        let opened = sessions::open(&self.state, login, &self.meta).await.map_err(internal)?;
        self.note(|o| o.session = Some(opened.id.clone()));
        // The session's end (a removed key, a panic, an admin) closes the connection at once.
        let handle = session.handle();
        let cut = self.cut.clone();
        let mut ended = opened.ended.clone();
        tokio::spawn(async move {
            while ended.changed().await.is_ok() {
                let reason = ended.borrow().clone();
                if let Some(reason) = reason {
                    let _ = handle
                        .disconnect(russh::Disconnect::ByApplication, format!("Access ended: {reason}."), "en".into())
                        .await;
                    // The message goes out when the session loop gets to it; the socket is cut regardless.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    let _ = cut.shutdown(std::net::Shutdown::Both);
                    break;
                }
            }
        });
        self.fs_parts = Some(opened);
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.login.is_some() && self.channels.is_empty() && !self.sftp_started {
            self.channels.insert(channel.id(), channel);
            reply.accept().await;
        }
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), Self::Error> {
        session.close(channel)?;
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel_id: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(login), Some(opened), Some(channel)) =
            (&self.login, &self.fs_parts, self.channels.remove(&channel_id))
        else {
            session.channel_failure(channel_id)?;
            return Ok(());
        };
        if name != "sftp" {
            session.channel_failure(channel_id)?;
            return Ok(());
        }
        self.sftp_started = true;
        session.channel_success(channel_id)?;
        let fs = Fs::new(
            self.state.clone(),
            login.ctx.clone(),
            self.meta.clone(),
            opened.id.clone(),
            opened.traffic.clone(),
        );
        let config = russh_sftp::server::Config { max_client_packet_len: 256 * 1024 };
        russh_sftp::server::run_with_config(channel.into_stream(), fs, config).await;
        Ok(())
    }
}
