//! Helpers for tests that run the `rampart` binary as a process of its own.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released for the process to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A browser-like client (cookies, no redirects) trusting only the development certificate that the server run
/// in `dir` (data folder `dir/data`) made.
pub fn client_trusting(dir: &Path) -> reqwest::Client {
    builder_trusting(dir).build().unwrap()
}

/// `client_trusting`, whose every request says it was forwarded for `ip` (for a server that trusts loopback as
/// its proxy: the client then counts as `ip` in the throttles and the IP guard).
pub fn client_trusting_from(dir: &Path, ip: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", ip.parse().unwrap());
    builder_trusting(dir).default_headers(headers).build().unwrap()
}

fn builder_trusting(dir: &Path) -> reqwest::ClientBuilder {
    let pem = std::fs::read(dir.join("data/tls/dev-cert.pem")).unwrap();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(60))
}

/// A `rampart serve` process of a test, killed and reaped when dropped. What it printed is kept line by line:
/// its standard output (the log) and its standard error (also passed on to the test's own output).
pub struct Served {
    pub child: Child,
    /// `https://127.0.0.1:PORT`
    pub base: String,
    out: Lines,
    err: Lines,
}

type Lines = Arc<Mutex<Vec<String>>>;

/// Every line `from` gives until it closes, kept as it comes (and passed on to the test's output if `echo`).
fn kept(from: impl std::io::Read + Send + 'static, echo: bool) -> (Lines, std::thread::JoinHandle<()>) {
    let lines = Lines::default();
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if echo {
                eprintln!("{line}");
            }
            sink.lock().unwrap().push(line);
        }
    });
    (lines, reader)
}

/// A `rampart serve` that ended instead of serving.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    /// Its standard output, then its standard error.
    pub output: String,
}

impl Served {
    /// The lines of its standard output so far.
    pub fn lines(&self) -> Vec<String> {
        self.out.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (10 s at most) until `done` holds for the output so far.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[String]) -> bool) {
        let t = Instant::now();
        while !done(&self.lines()) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "waited for {what}; the server printed: {:#?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn printed(&self) -> String {
        [self.lines(), self.err.lock().unwrap().clone()].concat().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `rampart serve` as `command` makes it (`common::rampart` with the test's settings), on free loopback
/// ports (the listener and the HTTP redirect; no metrics or SFTP listener unless `command` sets them), and
/// waits until it serves. The ports are found free just before the start, so another test may take one first:
/// a start that fails on a taken address is tried again on new ports, three times. A start that fails for
/// another reason is `Err`, with what the process printed.
pub async fn serve(command: impl Fn() -> Command) -> Result<Served, Exited> {
    for attempt in 1..=3 {
        let port = free_port();
        let base = format!("https://127.0.0.1:{port}");
        let mut cmd = command();
        let settings = [
            ("RAMPART_LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("RAMPART_REDIRECT_ADDR", format!("127.0.0.1:{}", free_port())),
            ("RAMPART_METRICS_ADDR", "off".to_owned()),
            ("RAMPART_SFTP_ADDR", "off".to_owned()),
            ("RAMPART_PUBLIC_URL", base.clone()),
        ];
        for (name, value) in settings {
            // A setting the command made itself stays.
            if !cmd.get_envs().any(|(k, v)| k == name && v.is_some()) {
                cmd.env(name, value);
            }
        }
        let mut child = cmd.arg("serve").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (out, out_reader) = kept(child.stdout.take().unwrap(), false);
        let (err, err_reader) = kept(child.stderr.take().unwrap(), true);
        // Dropped on every path out (a failed start too), the process is reaped.
        let mut served = Served { child, base, out, err };
        let t = Instant::now();
        let status = loop {
            if served.lines().iter().any(|l| l.contains("Rampart is serving")) {
                return Ok(served);
            }
            if let Some(status) = served.child.try_wait().unwrap() {
                break status;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "no start in 60 s: {}", served.printed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // It has ended: its pipes close, and the readers have every line.
        out_reader.join().unwrap();
        err_reader.join().unwrap();
        let output = served.printed();
        if !output.contains("Address already in use") || attempt == 3 {
            return Err(Exited { status, output });
        }
    }
    unreachable!("three starts, each returned")
}

/// A start that finds its address taken is tried again on new ports; a start that fails otherwise is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_tried_again_and_another_failure_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = super::database_url(dir.path()).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let starts = std::cell::Cell::new(0);
    let served = serve(|| {
        starts.set(starts.get() + 1);
        let mut cmd = super::rampart(dir.path(), &db);
        if starts.get() == 1 {
            cmd.env("RAMPART_LISTEN_ADDR", &taken_addr);
        }
        cmd
    })
    .await
    .unwrap();
    assert_eq!(starts.get(), 2);
    assert!(!served.base.ends_with(&taken_addr), "{}", served.base);
    drop(served);

    let refused = serve(|| {
        let mut cmd = super::rampart(dir.path(), &db);
        cmd.env("RAMPART_SESSION_IDLE_MINUTES", "not a number");
        cmd
    })
    .await
    .err()
    .expect("a bad setting ends the start");
    assert_eq!(refused.status.code(), Some(2), "{}", refused.output);
    assert!(refused.output.contains("session_idle_minutes"), "{}", refused.output);
}
