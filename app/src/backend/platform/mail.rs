//! Outgoing email: builds every message (plain text and HTML alternatives, Date, Message-ID, optional DKIM
//! signature) and delivers it either over SMTP or, when no SMTP server is configured, into an outbox folder.
//!
//! Policy:
//! - Transport security (RFC 8314): `smtps://` is implicit TLS; `smtp://` means STARTTLS *required* unless the
//!   URL says `tls=none`, which is accepted only for a loopback host. `tls=opportunistic` is refused, since an
//!   active attacker can strip STARTTLS (RFC 3207 §6). Certificates are checked against the Web PKI roots.
//! - The SMTP URL carries credentials: it is a `SecretString`, and neither it nor any part of it is logged or
//!   shown in errors. A failed delivery is logged once, without it, and answered `AppError::Unavailable`.
//! - Headers are built by lettre, which refuses or encodes CR/LF, so user input cannot inject headers.
//! - DKIM (RFC 6376, relaxed/relaxed) signs every message when configured, with an Ed25519 key (RFC 8463) from a
//!   PKCS#8 PEM file. RSA keys are refused: the only RSA signer available (the `rsa` crate) leaks key bits
//!   through timing (RUSTSEC-2023-0071, no fixed release), and our signing runs where a requester can time it.
//! - Outbox files are whole RFC 5322 messages, `{epoch_ms}-{uuid}.eml` (names sort by time), written to a temp
//!   name and renamed so readers never see half a message; the folder is 0700 and the files 0600, since
//!   messages carry sign-in and setup links.

use crate::model::AppError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, ObjectIdentifier, PrivateKeyInfo, SecretDocument, ALGORITHM_OID};
use ed25519_dalek::SigningKey;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig as SigningConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Per SMTP command (connect, TLS handshake, each reply).
const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// For a whole delivery, so a slow server cannot hold a request for long.
const SMTP_SEND_TIMEOUT: Duration = Duration::from_secs(45);

/// A message to send: plain text and HTML alternatives.
#[derive(Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Prints the recipient and subject only: bodies carry sign-in and setup links.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email").field("to", &self.to).field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// How to send mail, from the settings.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// The `From` mailbox, e.g. `Rampart <no-reply@example.com>`.
    pub from: String,
    /// Where messages are written when `smtp_url` is unset.
    pub outbox_dir: PathBuf,
    /// `smtps://user:pass@host:465` or `smtp://host:587` (STARTTLS required); unset: write to the outbox.
    pub smtp_url: Option<SecretString>,
    /// Sign every message when set.
    pub dkim: Option<DkimConfig>,
}

/// DKIM signing: the key's DNS record is `{selector}._domainkey.{domain}`.
#[derive(Clone, Debug)]
pub struct DkimConfig {
    pub domain: String,
    pub selector: String,
    /// PEM: PKCS#8 (`BEGIN PRIVATE KEY`) holding an Ed25519 key.
    pub private_key_pem: SecretString,
}

/// Sends email; cheap to clone (one shared configuration).
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
    metrics: crate::backend::platform::metrics::Metrics,
}

struct Inner {
    from: Mailbox,
    dkim: Option<(SigningConfig, String)>,
    transport: Transport,
}

enum Transport {
    Outbox(PathBuf),
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, security: &'static str },
}

/// No secrets: the SMTP URL and the DKIM key are never printed.
impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mailer");
        d.field("from", &self.inner.from.to_string());
        match &self.inner.transport {
            Transport::Outbox(dir) => d.field("outbox", dir),
            Transport::Smtp { security, .. } => d.field("smtp", security),
        };
        d.field("dkim", &self.inner.dkim.as_ref().map(|(_, tag)| tag)).finish()
    }
}

impl Mailer {
    /// Checks the configuration (from address, SMTP URL and its TLS policy, DKIM key); does no I/O. Errors
    /// name the setting: `mail_from`, `smtp_url`, `dkim_domain`, `dkim_selector` or `dkim_key_file`.
    pub fn new(cfg: MailConfig) -> Result<Self, String> {
        let from: Mailbox = cfg
            .from
            .parse()
            .map_err(|_| "mail_from: not a mailbox like `Rampart <no-reply@example.com>`".to_owned())?;
        let dkim = cfg.dkim.as_ref().map(signing_config).transpose()?;
        let transport = match &cfg.smtp_url {
            Some(url) => smtp_transport(url)?,
            None => Transport::Outbox(cfg.outbox_dir),
        };
        Ok(Self { inner: Arc::new(Inner { from, dkim, transport }), metrics: Default::default() })
    }

    /// The same mailer, counting what it sends and fails to send in `metrics`.
    pub fn with_metrics(mut self, metrics: crate::backend::platform::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Builds, signs and delivers one message. A bad recipient is `Validation { field: "email" }`; an SMTP
    /// failure is logged here and answered `Unavailable`; an outbox write failure is `Internal`.
    #[tracing::instrument(name = "send an email", skip_all)]
    pub async fn send(&self, email: &Email) -> Result<(), AppError> {
        let started = std::time::Instant::now();
        let result = self.deliver(email).await;
        let transport = if self.outbox_dir().is_some() { "outbox" } else { "smtp" };
        self.metrics.email(transport, result.is_ok(), started.elapsed());
        result
    }

    async fn deliver(&self, email: &Email) -> Result<(), AppError> {
        let message = self.build(email)?;
        match &self.inner.transport {
            Transport::Outbox(dir) => {
                let (dir, bytes) = (dir.clone(), message.formatted());
                match tokio::task::spawn_blocking(move || write_outbox(&dir, &bytes)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(err)) => Err(internal("writing to the mail outbox failed", &err)),
                    Err(err) => Err(internal("the mail outbox writer stopped", &err)),
                }
            }
            Transport::Smtp { transport, .. } => {
                match tokio::time::timeout(SMTP_SEND_TIMEOUT, transport.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(err)) => {
                        log_smtp_error(&err);
                        Err(AppError::Unavailable)
                    }
                    Err(_) => {
                        tracing::error!(kind = "timeout", "sending an email over SMTP failed");
                        Err(AppError::Unavailable)
                    }
                }
            }
        }
    }

    /// The outbox folder when messages are written there instead of sent.
    pub fn outbox_dir(&self) -> Option<&Path> {
        match &self.inner.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp { .. } => None,
        }
    }

    fn build(&self, email: &Email) -> Result<Message, AppError> {
        let to: Mailbox =
            email.to.trim().parse().map_err(|_| AppError::validation("email", "Enter a valid email address."))?;
        // Our own Message-ID domain: lettre's default would be `localhost`.
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.inner.from.email.domain());
        let mut message = Message::builder()
            .from(self.inner.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .date_now()
            .message_id(Some(message_id))
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|err| internal("building an email failed", &err))?;
        if let Some((dkim, _)) = &self.inner.dkim {
            message.sign(dkim);
        }
        Ok(message)
    }
}

#[track_caller]
fn internal(what: &str, err: &dyn fmt::Display) -> AppError {
    super::failure::internal(what, err)
}

/// Logs what went wrong without the server's reply text (it may quote the account) or anything from the URL.
fn log_smtp_error(err: &lettre::transport::smtp::Error) {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_tls() {
        "tls"
    } else if err.is_permanent() {
        "rejected"
    } else if err.is_transient() {
        "deferred"
    } else if err.is_response() {
        "bad reply"
    } else {
        "connection"
    };
    let code = err.status().map(|c| c.to_string());
    // For connection and TLS failures the source is an I/O or certificate error, worth having in the log.
    let cause = (!err.is_response() && !err.is_permanent() && !err.is_transient())
        .then(|| std::error::Error::source(err).map(ToString::to_string))
        .flatten();
    tracing::error!(kind, code = ?code, cause = ?cause, "sending an email over SMTP failed");
}

/// Applies the TLS policy of the module doc, then hands the URL to lettre.
fn smtp_transport(url: &SecretString) -> Result<Transport, String> {
    const HOW: &str = "use smtps://host:465, or smtp://host:587 (STARTTLS required)";
    let mut url = url::Url::parse(url.expose_secret().trim()).map_err(|_| format!("smtp_url: not a URL; {HOW}"))?;
    let loopback = match url.host() {
        // smtp: is not a "special" scheme to the URL standard, so IPv4 addresses arrive as opaque names.
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("smtp_url: no host; {HOW}")),
    };
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        if key != "tls" || tls.is_some() {
            return Err("smtp_url: the only query parameter understood is one `tls=`".to_owned());
        }
        tls = Some(value.into_owned());
    }
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => "implicit TLS",
        ("smtp", None | Some("required")) => {
            url.set_query(Some("tls=required"));
            "STARTTLS required"
        }
        ("smtp", Some("none")) if loopback => {
            url.set_query(None);
            "plain, loopback"
        }
        ("smtp", Some("none")) => return Err(format!("smtp_url: tls=none is only allowed to a loopback host; {HOW}")),
        ("smtp", Some("opportunistic")) => {
            return Err(format!("smtp_url: tls=opportunistic lets an attacker strip TLS; {HOW}"))
        }
        _ => return Err(format!("smtp_url: unsupported scheme or tls parameter; {HOW}")),
    };
    let url = SecretString::from(String::from(url));
    // lettre's errors here name no part of the URL, but keep ours uniform anyway.
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
        .map_err(|_| format!("smtp_url: not usable; {HOW}"))?
        .timeout(Some(SMTP_COMMAND_TIMEOUT))
        .build();
    Ok(Transport::Smtp { transport, security })
}

fn signing_config(cfg: &DkimConfig) -> Result<(SigningConfig, String), String> {
    // Both go verbatim into the DKIM-Signature header: letters, digits, '-' and '.' only (RFC 6376 §3.1).
    let is_name = |s: &str| s.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(is_ldh));
    if !is_name(&cfg.domain) {
        return Err("dkim_domain: not a domain name like example.com".to_owned());
    }
    if !is_name(&cfg.selector) {
        return Err("dkim_selector: letters, digits, '-' and '.' only, like rampart2025".to_owned());
    }
    let key = signing_key(cfg.private_key_pem.expose_secret()).map_err(|e| format!("dkim_key_file: {e}"))?;
    let headers = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]
        .into_iter()
        .map(HeaderName::new_from_ascii_str)
        .collect();
    let relaxed =
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
    let signing = SigningConfig::new(cfg.selector.clone(), cfg.domain.clone(), key, headers, relaxed);
    Ok((signing, format!("d={}; s={}", cfg.domain, cfg.selector)))
}

fn is_ldh(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// rsaEncryption (1.2.840.113549.1.1.1): named only to refuse it with its reason.
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Reads a PEM Ed25519 private key (PKCS#8, by `ed25519-dalek`'s decoder) into lettre's form (base64 of the
/// 32-byte seed). Every buffer holding key material is wiped on drop.
fn signing_key(pem: &str) -> Result<DkimSigningKey, String> {
    const BAD: &str = "not a valid key";
    const NO_RSA: &str = "RSA keys are refused (RUSTSEC-2023-0071: timing side channel in the rsa crate); \
                          use an Ed25519 key (RFC 8463)";
    let (label, der) = SecretDocument::from_pem(pem)
        .map_err(|_| "not a PEM file, or an encrypted key (store it unencrypted, mode 0600)".to_owned())?;
    match label {
        "RSA PRIVATE KEY" => Err(NO_RSA.to_owned()),
        "PRIVATE KEY" => {
            let info = PrivateKeyInfo::try_from(der.as_bytes()).map_err(|_| BAD.to_owned())?;
            match info.algorithm.oid {
                OID_RSA => Err(NO_RSA.to_owned()),
                ALGORITHM_OID => {
                    let key = SigningKey::from_pkcs8_der(der.as_bytes()).map_err(|_| BAD.to_owned())?;
                    let seed = SecretString::from(STANDARD.encode(key.as_bytes()));
                    DkimSigningKey::new(seed.expose_secret(), DkimSigningAlgorithm::Ed25519).map_err(|_| BAD.to_owned())
                }
                _ => Err("only Ed25519 keys can sign DKIM".to_owned()),
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err("the key is encrypted; store it unencrypted with mode 0600".to_owned()),
        _ => Err("expected a PEM private key (BEGIN PRIVATE KEY)".to_owned()),
    }
}

/// Writes one message atomically: a hidden temp file (0600) in the same folder, then a rename.
fn write_outbox(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;

    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let name = format!("{millis:013}-{}.eml", uuid::Uuid::now_v7().simple());
    let (tmp, path) = (dir.join(format!(".{name}.tmp")), dir.join(&name));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(err) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?; // make the rename itself durable
    Ok(())
}

#[cfg(test)]
mod tests;
