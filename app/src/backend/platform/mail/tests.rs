//! The mail module's tests: outbox, headers, DKIM, SMTP against a loopback sink.
use super::*;
use crate::backend::platform::text::escape_html;
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

    // RSA keys are refused, in PKCS#8 and PKCS#1 form alike, with the reason; mangled keys or odd names too.
    let refused = |cfg: DkimConfig| Mailer::new(MailConfig { dkim: Some(cfg), ..config(&dir) }).err();
    let err = refused(dkim(RSA_PKCS8_PEM)).unwrap_or_default();
    assert!(err.contains("RUSTSEC-2023-0071"), "{err}");
    let (_, der) = SecretDocument::from_pem(RSA_PKCS8_PEM).map_err(|e| e.to_string())?;
    let pkcs1 = PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| e.to_string())?.private_key;
    let body = STANDARD.encode(pkcs1);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    let pkcs1_pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n", lines.join("\n"));
    assert!(signing_key(&pkcs1_pem).is_err_and(|e| e.contains("Ed25519")));
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
        assert!(shown.contains(security) && !shown.contains("hunter2") && !shown.contains("outbox"), "{url}: {shown}");
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
