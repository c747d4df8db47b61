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
//! - DKIM (RFC 6376, relaxed/relaxed) signs every message when configured: Ed25519 (RFC 8463) or RSA of at
//!   least 2048 bits (RFC 8301 §3.2), from a PKCS#8 or PKCS#1 PEM file.
//! - Outbox files are whole RFC 5322 messages, `{epoch_ms}-{uuid}.eml` (names sort by time), written to a temp
//!   name and renamed so readers never see half a message; the folder is 0700 and the files 0600, since
//!   messages carry sign-in and setup links.

use crate::model::AppError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig as SigningConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};
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
    /// PEM: PKCS#8 (`BEGIN PRIVATE KEY`, RSA or Ed25519) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub private_key_pem: SecretString,
}

/// Sends email; cheap to clone (one shared configuration).
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
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
        Ok(Self { inner: Arc::new(Inner { from, dkim, transport }) })
    }

    /// Builds, signs and delivers one message. A bad recipient is `Validation { field: "email" }`; an SMTP
    /// failure is logged here and answered `Unavailable`; an outbox write failure is `Internal`.
    #[tracing::instrument(name = "send an email", skip_all)]
    pub async fn send(&self, email: &Email) -> Result<(), AppError> {
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

/// Escapes text for inclusion in the HTML alternative.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn internal(what: &str, err: &dyn fmt::Display) -> AppError {
    let op_id = super::crypto::op_id();
    tracing::error!(op_id = %op_id, error = %err, "{what}");
    AppError::Internal { op_id }
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

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]; // 1.2.840.113549.1.1.1
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70]; // 1.3.101.112 (RFC 8410)

/// Reads a PEM private key into lettre's form (PKCS#1 PEM for RSA, base64 of the 32-byte seed for Ed25519).
fn signing_key(pem: &str) -> Result<DkimSigningKey, String> {
    const BAD: &str = "not a valid key";
    let (label, der) = pem_decode(pem)?;
    let der = der.expose_secret();
    let pkcs1 = match label.as_str() {
        "RSA PRIVATE KEY" => der,
        "PRIVATE KEY" => match pkcs8_key(der).ok_or(BAD)? {
            (OID_RSA, pkcs1) => pkcs1,
            (OID_ED25519, inner) => {
                let (0x04, seed, _) = der_next(inner).ok_or(BAD)? else { return Err(BAD.to_owned()) };
                if seed.len() != 32 {
                    return Err(BAD.to_owned());
                }
                let seed = SecretString::from(STANDARD.encode(seed));
                return DkimSigningKey::new(seed.expose_secret(), DkimSigningAlgorithm::Ed25519)
                    .map_err(|_| BAD.to_owned());
            }
            _ => return Err("only RSA and Ed25519 keys can sign DKIM".to_owned()),
        },
        "ENCRYPTED PRIVATE KEY" => return Err("the key is encrypted; store it unencrypted with mode 0600".to_owned()),
        _ => return Err("expected a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)".to_owned()),
    };
    let bits = rsa_modulus_bits(pkcs1).ok_or(BAD)?;
    if bits < 2048 {
        return Err(format!("the RSA key has {bits} bits; DKIM needs at least 2048 (RFC 8301 §3.2)"));
    }
    let body = STANDARD.encode(pkcs1);
    let lines: Vec<&str> = body.as_bytes().chunks(64).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    let pem = SecretString::from(format!(
        "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
        lines.join("\n")
    ));
    DkimSigningKey::new(pem.expose_secret(), DkimSigningAlgorithm::Rsa).map_err(|_| BAD.to_owned())
}

/// The label and the decoded contents of the first PEM block.
fn pem_decode(pem: &str) -> Result<(String, SecretSlice<u8>), String> {
    const NOT_PEM: &str = "not a PEM file";
    let mut lines = pem.lines().map(str::trim).skip_while(|l| !l.starts_with("-----BEGIN "));
    let label = lines.next().and_then(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----")).ok_or(NOT_PEM)?;
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in lines.by_ref() {
        ended = line == end;
        if ended || line.contains(':') {
            break;
        }
        body.push_str(line);
    }
    let body = SecretString::from(body); // the key itself, base64-encoded: wiped on drop
    if !ended {
        // A `Proc-Type: 4,ENCRYPTED` header line stops the loop early too.
        return Err(format!("{NOT_PEM}, or an encrypted key (store it unencrypted, mode 0600)"));
    }
    let der = STANDARD.decode(body.expose_secret()).map_err(|_| NOT_PEM.to_owned())?;
    Ok((label.to_owned(), SecretSlice::from(der)))
}

/// One DER element: tag, contents, what follows. Definite lengths only.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// PKCS#8 PrivateKeyInfo (RFC 5208 §5): the algorithm OID and the private key octets.
fn pkcs8_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (0x30, info, _) = der_next(der)? else { return None };
    let (0x02, _version, rest) = der_next(info)? else { return None };
    let (0x30, algorithm, rest) = der_next(rest)? else { return None };
    let (0x06, oid, _) = der_next(algorithm)? else { return None };
    let (0x04, key, _) = der_next(rest)? else { return None };
    Some((oid, key))
}

/// The modulus size of a PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2).
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (0x30, key, _) = der_next(der)? else { return None };
    let (0x02, _version, rest) = der_next(key)? else { return None };
    let (0x02, modulus, _) = der_next(rest)? else { return None };
    let start = modulus.iter().position(|b| *b != 0)?;
    let first = modulus.get(start)?;
    Some((modulus.len() - start) * 8 - first.leading_zeros() as usize)
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
mod tests {
    use super::*;
    use std::io::{BufRead as _, BufReader};

    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
    type Headers = Vec<(String, String)>;

    // Test-only keys, generated for these tests with `openssl genpkey`; they sign nothing real.
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKrQM/1PqdaAWhYkUWovngQZwlqYkqOPqlAO5vXgqSRW
-----END PRIVATE KEY-----
";
    const RSA_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDD8j1xQJfJ4Gtw
wgIcwOpEcZw77nnxaNaySzyDcZ926E7HMzXA6DmfCd76MzyKXhFVJndXT/QaUnES
pFYEqkjFWPEntnZga/wDMCrvLQELLVpXjpxwJWjIiFacqjdUQ2mkRyz0KgZ1h6Kb
RmE+cDhsKZhft8SOT2/gFJhCuvpaH69sLsnjXiASKqP/HdnbYtieH0rtrQ/UrwKx
ba4yfY+wU2GSCm+UVFdXfZsqtcisUUjB9Tb9XHIDmWMvKxSZ08QH3HJ/O/Y/DzBz
rpN5ogH0Uqh4DsWS372WPoTxR7IOfs/B+6ryDp5FtVBvZXQeeTcWaoQn4ewuKf9+
H13iftonAgMBAAECggEAV1uOLQmhIm2dON4l1u/jAbSs9MMzNn+JCGAmkGt9rqOP
S5v3IRPnbJIYCPAC06VwkMffeNu6dmm+45LEjrvkSaeHjC76w64g4sL8wTkNOBB2
MIbyE8V5271878erdzO+y3C4B/scehWIVzWfcRjS7tX0iugBB3k+5WYJI+b8amTh
8oVogY6+YnKi5vXqcPswMGEu3CzMg4K+mzJ17yoCxcNxz3ZaTrIunJAW/FeLVZqn
Y2aPmE2KW3XEgYlWyoPldT5ehFIL38yv8HXle4qd7Hf4YVZ8A5vzvBvHTOTCITxO
MxQKB7A/+k6Z6cRR0pDKh3rNBFOupq4FEe99ZH01gQKBgQDsI5EY+yt79mN18lHK
dvGc9d6RRp1YHsZQxfjhEpt3u9FBlPVYnBQYr0QVQlHg3kS8vDx8/8ZbWRGC7QMY
9DPfx1e1TYQ4d4M5bwxGzIGEk/IpziKNdML33VTeqsfPK/QfqA7PqLMw2a+q1pW/
eWoy4WNcSW3WVa19OiXLPc0aRwKBgQDUbUNdv/P6S7+QGOGRDtfx+ZWrAjQtiRcq
iLzCmKNBS34mnz4vKREl1mAUH8/wu1WF/motf19bZt8kn5wtlw57eCguq4StIjDK
78PXAuLCZE2Y2Y+398V57tGuwDeF41gRTyjLaaaAM8RIUP+MWcFKVWZNvqjo8omw
TM1DDVJRIQKBgEZx6dRZAcTuYQeLrajHyRZ5JteSCFiEfccU+EU0xtp2VlvJM1Qm
47vldVseOMzroffn8+eaajNQI/A6AqWMHHmSv3Cf2mT6ClS08yWf1reVZzXff+FR
RuSoy6vNqOP+Ccrz2M9MVYCqQESn1W6UqwDYykp6wWCimKn2EdZK7of7AoGAEUKT
f7GSFFtFRGMRKOUo3Ktn4s46CR0jebxEghc+5JZKuL6lodVXZFin09rF3YyLJWkH
nYzE5btVFDe3y+iDL7sSoMAk9qBZkJOsuPKuFBdsSqgaylrie8bQ2L8bg9B2Hmnt
KaH6+l26bBnQucmtL+oCdvyv4sWaNG35G6KgdqECgYEAuXDt/wEfwAd8em8S7NUr
FDWo/UF/ljTnDzfaAUfV0tcKHyuqY+S7GOuAIJLYAQQln3RGbDYd2k6QOu715aAp
wNvvIa1BoO4EFvri9qYrmg8LVTd7GKAd4fjm+OuF0TGBXwbDVwmNzNh/Amnq2mwa
AZL9NEaHOQA37uWpLlR155A=
-----END PRIVATE KEY-----
";

    fn config(dir: &Path) -> MailConfig {
        let from = "Rampart <no-reply@rampart.localhost>".to_owned();
        MailConfig { from, outbox_dir: dir.to_owned(), smtp_url: None, dkim: None }
    }

    fn email(to: &str, subject: &str) -> Email {
        let text = "Open https://console.example/setup#tok to continue.".to_owned();
        let html = format!("<p>Open <a href=\"https://console.example/setup#tok\">{}</a>.</p>", escape_html("<link>"));
        Email { to: to.to_owned(), subject: subject.to_owned(), text, html }
    }

    fn temp_dir() -> PathBuf {
        std::env::temp_dir().join(format!("rampart-mail-{}", uuid::Uuid::new_v4().simple())).join("outbox")
    }

    /// The names in the outbox, sorted, and the contents of the first.
    fn outbox(dir: &Path) -> TestResult<(Vec<String>, String)> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        let first = std::fs::read_to_string(dir.join(names.first().ok_or("empty outbox")?))?;
        Ok((names, first))
    }

    /// Unfolded headers and the body of a message.
    fn parse(raw: &str) -> TestResult<(Headers, &str)> {
        let (head, body) = raw.split_once("\r\n\r\n").ok_or("no blank line after the headers")?;
        let mut headers = Headers::new();
        for line in head.split("\r\n") {
            match (line.strip_prefix([' ', '\t']), headers.last_mut()) {
                (Some(more), Some((_, value))) => value.push_str(&format!(" {}", more.trim())),
                _ => {
                    let (name, value) = line.split_once(':').ok_or("a header line without a colon")?;
                    headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
        }
        Ok((headers, body))
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    #[tokio::test]
    async fn outbox_holds_one_private_message_with_both_alternatives() -> TestResult {
        let dir = temp_dir();
        let mailer = Mailer::new(config(&dir))?;
        assert_eq!(mailer.outbox_dir(), Some(dir.as_path()));
        mailer.send(&email("alice@example.com", "Your setup link")).await?;

        let (names, raw) = outbox(&dir)?;
        assert_eq!(names.len(), 1, "no temp file left behind: {names:?}");
        let (stem, uuid) = names[0].trim_end_matches(".eml").split_once('-').ok_or("name")?;
        assert!(names[0].ends_with(".eml") && stem.len() == 13 && uuid.len() == 32, "{}", names[0]);
        let (headers, body) = parse(&raw)?;
        assert_eq!(header(&headers, "from"), "Rampart <no-reply@rampart.localhost>");
        assert_eq!(header(&headers, "to"), "alice@example.com");
        assert_eq!(header(&headers, "subject"), "Your setup link");
        assert!(header(&headers, "message-id").ends_with("@rampart.localhost>"), "{headers:?}");
        assert!(!header(&headers, "date").is_empty() && header(&headers, "mime-version") == "1.0");
        let content_type = header(&headers, "content-type");
        assert!(content_type.starts_with("multipart/alternative;"), "{content_type}");
        let boundary = content_type.split("boundary=").nth(1).ok_or("no boundary")?.trim_matches('"');
        let parts: Vec<&str> = body.split(&format!("--{boundary}")).collect();
        let part = |kind: &str| parts.iter().find(|p| p.contains(&format!("Content-Type: {kind}"))).copied();
        assert!(part("text/plain").ok_or("no text part")?.contains("https://console.example/setup#tok to continue."));
        assert!(part("text/html").ok_or("no html part")?.contains("&lt;link&gt;</a>.</p>"));

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(dir.join(&names[0]))?.permissions().mode() & 0o777, 0o600);
            assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
        }
        Ok(std::fs::remove_dir_all(dir.parent().ok_or("parent")?)?)
    }

    #[tokio::test]
    async fn outbox_names_sort_by_time() -> TestResult {
        let dir = temp_dir();
        let mailer = Mailer::new(config(&dir))?;
        for subject in ["first", "second", "third"] {
            mailer.send(&email("bob@example.com", subject)).await?;
        }
        let (names, raw) = outbox(&dir)?;
        assert_eq!(names.len(), 3);
        assert_eq!(header(&parse(&raw)?.0, "subject"), "first");
        Ok(std::fs::remove_dir_all(dir.parent().ok_or("parent")?)?)
    }

    #[tokio::test]
    async fn bad_recipients_are_refused_and_headers_cannot_be_injected() -> TestResult {
        let dir = temp_dir();
        let mailer = Mailer::new(config(&dir))?;
        for to in ["not an address", "", "alice@example.com\r\nBcc: eve@example.com", "a@b.com, eve@example.com"] {
            let err = mailer.send(&email(to, "hi")).await.err();
            assert!(matches!(&err, Some(AppError::Validation { field, .. }) if field == "email"), "{to:?}: {err:?}");
        }
        mailer.send(&email("alice@example.com", "Hi\r\nBcc: eve@example.com\r\n\r\nforged")).await?;
        let (_, raw) = outbox(&dir)?;
        let (headers, _) = parse(&raw)?;
        assert!(headers.iter().all(|(name, _)| name != "bcc"), "{headers:?}");
        assert!(!raw.contains("\r\nBcc:") && !raw.contains("\nforged"), "{raw}");
        Ok(std::fs::remove_dir_all(dir.parent().ok_or("parent")?)?)
    }

    #[tokio::test]
    async fn dkim_signs_every_message() -> TestResult {
        let dir = temp_dir();
        let dkim = |pem: &str| DkimConfig {
            domain: "rampart.localhost".to_owned(),
            selector: "test2025".to_owned(),
            private_key_pem: SecretString::from(pem.to_owned()),
        };
        let mailer = Mailer::new(MailConfig { dkim: Some(dkim(ED25519_PEM)), ..config(&dir) })?;
        mailer.send(&email("alice@example.com", "Signed")).await?;
        let (headers, _) = parse(&outbox(&dir)?.1)?;
        let signature = header(&headers, "dkim-signature");
        for tag in ["a=ed25519-sha256;", "d=rampart.localhost;", "s=test2025;", "c=relaxed/relaxed;", "bh=", "b="] {
            assert!(signature.contains(tag), "{tag} missing from {signature:?}");
        }
        assert!(signature.contains("h=from:to:subject:date:message-id:mime-version:content-type;"), "{signature}");

        // RSA keys: PKCS#8 and its PKCS#1 form are both accepted; too short, mangled or odd names are not.
        assert!(Mailer::new(MailConfig { dkim: Some(dkim(RSA_PKCS8_PEM)), ..config(&dir) }).is_ok());
        let (_, der) = pem_decode(RSA_PKCS8_PEM)?;
        let (_, pkcs1) = pkcs8_key(der.expose_secret()).ok_or("not PKCS#8")?;
        let pkcs1_pem =
            format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----", STANDARD.encode(pkcs1));
        assert_eq!(rsa_modulus_bits(pkcs1), Some(2048));
        assert!(signing_key(&pkcs1_pem).is_ok());
        assert_eq!(rsa_modulus_bits(&[0x30, 0x09, 0x02, 0x01, 0x00, 0x02, 0x04, 0x00, 0x7f, 0xff, 0xff]), Some(23));
        let refused = |cfg: DkimConfig| Mailer::new(MailConfig { dkim: Some(cfg), ..config(&dir) }).err();
        let err = refused(dkim(&ED25519_PEM.replace("MC4C", "MC5C"))).unwrap_or_default();
        assert!(err.starts_with("dkim_key_file:"), "{err}");
        assert!(!err.contains("MC4C"), "the key is not echoed: {err}");
        let err = refused(DkimConfig { selector: "s; h=From".to_owned(), ..dkim(ED25519_PEM) }).unwrap_or_default();
        assert!(err.starts_with("dkim_selector:"), "{err}");
        let err = refused(DkimConfig { domain: "example.com\r\n".to_owned(), ..dkim(ED25519_PEM) }).unwrap_or_default();
        assert!(err.starts_with("dkim_domain:"), "{err}");
        Ok(std::fs::remove_dir_all(dir.parent().ok_or("parent")?)?)
    }

    #[test]
    fn smtp_urls_must_protect_the_connection_and_are_never_shown() {
        let with_url = |url: &str| {
            let cfg = MailConfig { smtp_url: Some(SecretString::from(url.to_owned())), ..config(Path::new("unused")) };
            Mailer::new(cfg).map(|m| format!("{m:?}"))
        };
        for (url, security) in [
            ("smtps://mailer:hunter2@smtp.example.com", "implicit TLS"),
            ("smtp://mailer:hunter2@smtp.example.com:587", "STARTTLS required"),
            ("smtp://smtp.example.com?tls=required", "STARTTLS required"),
            ("smtp://127.0.0.1:2525?tls=none", "plain, loopback"),
            ("smtp://[::1]?tls=none", "plain, loopback"),
            ("smtp://localhost:25?tls=none", "plain, loopback"),
        ] {
            let shown = with_url(url).unwrap_or_default();
            assert!(
                shown.contains(security) && !shown.contains("hunter2") && !shown.contains("outbox"),
                "{url}: {shown}"
            );
        }
        for url in [
            "smtp://mailer:hunter2@smtp.example.com?tls=none",
            "smtp://mailer:hunter2@smtp.example.com?tls=opportunistic",
            "smtp://mailer:hunter2@smtp.example.com?tls=required&tls=none",
            "smtps://mailer:hunter2@smtp.example.com?tls=none",
            "smtp://mailer:hunter2@smtp.example.com?tsl=required",
            "http://mailer:hunter2@smtp.example.com",
            "mailer:hunter2 at smtp.example.com",
        ] {
            let err = with_url(url).err().unwrap_or_default();
            assert!(err.starts_with("smtp_url:") && !err.contains("hunter2"), "{url}: {err}");
        }
        let err = Mailer::new(MailConfig { from: "Rampart".to_owned(), ..config(Path::new("x")) }).err();
        assert!(err.unwrap_or_default().starts_with("mail_from:"));
    }

    #[test]
    fn escape_html_covers_markup_and_attributes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    /// A one-connection SMTP server on loopback that records the conversation.
    fn smtp_sink() -> std::io::Result<(u16, std::thread::JoinHandle<std::io::Result<String>>)> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(Duration::from_secs(20)))?;
            let mut reader = BufReader::new(stream.try_clone()?);
            let (mut transcript, mut in_data) = (String::new(), false);
            stream.write_all(b"220 sink ESMTP\r\n")?;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(transcript);
                }
                transcript.push_str(&line);
                let command = line.to_ascii_uppercase();
                let reply: &[u8] = match () {
                    _ if in_data && line == ".\r\n" => {
                        in_data = false;
                        b"250 queued\r\n"
                    }
                    _ if in_data => continue,
                    _ if command.starts_with("EHLO") => b"250-sink\r\n250 8BITMIME\r\n",
                    _ if command.starts_with("DATA") => {
                        in_data = true;
                        b"354 go ahead\r\n"
                    }
                    _ if command.starts_with("QUIT") => {
                        stream.write_all(b"221 bye\r\n")?;
                        return Ok(transcript);
                    }
                    _ => b"250 ok\r\n",
                };
                stream.write_all(reply)?;
            }
        });
        Ok((port, handle))
    }

    #[tokio::test]
    async fn smtp_mode_delivers_and_an_unreachable_server_is_unavailable() -> TestResult {
        let (port, sink) = smtp_sink()?;
        let url = SecretString::from(format!("smtp://127.0.0.1:{port}?tls=none"));
        let mailer = Mailer::new(MailConfig { smtp_url: Some(url), ..config(Path::new("unused")) })?;
        assert_eq!(mailer.outbox_dir(), None);
        mailer.send(&email("bob@example.com", "Over SMTP")).await?;
        let transcript = sink.join().map_err(|_| "the sink panicked")??;
        assert!(transcript.contains("MAIL FROM:<no-reply@rampart.localhost>"), "{transcript}");
        assert!(transcript.contains("RCPT TO:<bob@example.com>"), "{transcript}");
        assert!(transcript.contains("Subject: Over SMTP\r\n") && transcript.contains("text/html"), "{transcript}");

        let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // dropped: nothing listens
        let url = SecretString::from(format!("smtp://127.0.0.1:{closed}?tls=none"));
        let mailer = Mailer::new(MailConfig { smtp_url: Some(url), ..config(Path::new("unused")) })?;
        assert_eq!(mailer.send(&email("bob@example.com", "Lost")).await, Err(AppError::Unavailable));
        Ok(())
    }
}
