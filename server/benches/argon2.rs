//! Prints what one sign-in costs: argon2id (m=19456 KiB, t=2, p=1) verify time, median and p90 over 30 runs,
//! one at a time. No pass/fail: `make bench` reports it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use app::backend::identity::password::Hasher;
use secrecy::SecretString;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let hasher = Hasher::new(1).expect("hasher");
    let pw = SecretString::from("a benchmark passphrase of decent length".to_owned());
    let stored = hasher.hash(&pw).await.expect("hash");
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let v = hasher.verify(Some(&stored), &pw).await.expect("verify");
        assert!(v.ok);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "argon2id verify (m=19456 KiB, t=2, p=1): median {:.1} ms, p90 {:.1} ms, min {:.1} ms over {} runs",
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        times[0],
        times.len()
    );
}
