//! The optional virus-scan hook: uploads are streamed to clamd (`INSTREAM` over its Unix or TCP socket) while
//! they are encrypted, and a file clamd flags is refused and never stored. When clamd is configured but cannot
//! be reached, or gives no clear answer, the upload is refused too (fail closed).

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Where clamd listens: a Unix socket path, or `tcp://host:port`.
#[derive(Debug, Clone)]
pub struct Clamd {
    pub address: String,
}

/// An open `INSTREAM` session.
pub struct ScanSession {
    conn: Box<dyn Conn>,
}

trait Conn: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Conn for T {}

impl std::fmt::Debug for ScanSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScanSession")
    }
}

/// What clamd said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Infected(String),
}

impl Clamd {
    /// Connects and starts an `INSTREAM` session.
    pub async fn start(&self) -> std::io::Result<ScanSession> {
        let mut conn: Box<dyn Conn> = match self.address.strip_prefix("tcp://") {
            Some(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
            None => {
                #[cfg(unix)]
                {
                    Box::new(tokio::net::UnixStream::connect(&self.address).await?)
                }
                #[cfg(not(unix))]
                {
                    return Err(std::io::Error::other("Unix sockets are not available here"));
                }
            }
        };
        conn.write_all(b"zINSTREAM\0").await?;
        Ok(ScanSession { conn })
    }
}

impl ScanSession {
    /// Sends plaintext (in clamd's length-prefixed pieces).
    pub async fn feed(&mut self, data: &[u8]) -> std::io::Result<()> {
        for piece in data.chunks(1 << 16) {
            self.conn.write_all(&(piece.len() as u32).to_be_bytes()).await?;
            self.conn.write_all(piece).await?;
        }
        Ok(())
    }

    /// Ends the stream and reads clamd's verdict.
    pub async fn finish(mut self) -> std::io::Result<Verdict> {
        self.conn.write_all(&[0, 0, 0, 0]).await?;
        self.conn.flush().await?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 512];
        loop {
            let n = self.conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            reply.extend_from_slice(&buf[..n]);
            if reply.contains(&0) || reply.len() > 4096 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&reply).trim_end_matches(['\0', '\n']).to_owned();
        parse_reply(&text)
    }
}

fn parse_reply(text: &str) -> std::io::Result<Verdict> {
    let body = text.split_once(": ").map(|(_, b)| b).unwrap_or(text);
    if body == "OK" {
        Ok(Verdict::Clean)
    } else if let Some(name) = body.strip_suffix(" FOUND") {
        Ok(Verdict::Infected(printable(name, 100)))
    } else {
        Err(std::io::Error::other(format!("clamd: {}", printable(body, 200))))
    }
}

/// At most `max` characters of `text`, without control characters.
fn printable(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read() -> std::io::Result<()> {
        assert_eq!(parse_reply("stream: OK")?, Verdict::Clean);
        assert_eq!(
            parse_reply("stream: Eicar-Test-Signature FOUND")?,
            Verdict::Infected("Eicar-Test-Signature".into())
        );
        assert!(parse_reply("INSTREAM size limit exceeded. ERROR").is_err());
        Ok(())
    }
}
