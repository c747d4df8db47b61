//! Anchors of the access-history chains kept **outside** the database, so that a database writer who removes
//! the newest events and rolls a head back to an earlier genuine state (or drops the oldest events with their
//! checkpoint) is still caught.
//!
//! Policy:
//! - The anchor log is an append-only text file in the data dir (`audit-anchors.log`). Every minute while
//!   events flow (the server's job), each chain whose head moved gets one line: `v1 <time ms> <chain> <seq>
//!   <mac> <line mac>`, the line MAC an HMAC under the chain key (a line cannot be forged or moved to another
//!   chain), fsynced.
//! - Verification (`rampart audit verify`, the console's Verify integrity) compares the chain with its newest
//!   anchor: a head behind it, or an event at its `seq` whose MAC differs, is reported broken, naming the
//!   anchor. Anchors older than the retention checkpoint say nothing about purged events.
//! - Each history export and each alert digest also carries the current head, a copy kept by the tenant.

use crate::backend::platform::crypto::ServerKeys;
use crate::model::AppError;
use sqlx::{AnyPool, Row as _};
use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::sync::Mutex;

/// The newest anchor of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub at: i64,
    pub seq: i64,
    pub mac: String,
}

/// The anchor log of this data dir, and the last seq this process anchored per chain.
#[derive(Debug)]
pub struct AnchorLog {
    path: Option<PathBuf>,
    anchored: Mutex<HashMap<String, i64>>,
}

fn line_mac(keys: &ServerKeys, at: i64, chain: &str, seq: i64, mac: &str) -> String {
    let (_, key) = keys.audit_chain_key(chain);
    super::chain::head_mac(&key, &format!("anchor:{chain}"), seq, mac, at, "")
}

fn line_mac_ok(keys: &ServerKeys, at: i64, chain: &str, seq: i64, mac: &str, got: &str) -> bool {
    keys.audit_chain_keys(chain).iter().any(|(_, key)| {
        let want = super::chain::head_mac(key, &format!("anchor:{chain}"), seq, mac, at, "");
        crate::backend::platform::crypto::constant_time_eq(want.as_bytes(), got.as_bytes())
    })
}

impl AnchorLog {
    /// The log at `path` (created on the first anchor).
    pub fn at(path: PathBuf) -> Self {
        Self { path: Some(path), anchored: Mutex::default() }
    }

    /// No log (tools that only read the database); verification then checks the database alone.
    pub fn none() -> Self {
        Self { path: None, anchored: Mutex::default() }
    }

    /// Appends the head of every chain that moved since this process last anchored it; returns how many.
    pub async fn write_due(&self, pool: &AnyPool, keys: &ServerKeys, now: i64) -> Result<usize, AppError> {
        let Some(path) = self.path.clone() else { return Ok(0) };
        let rows = sqlx::query("SELECT chain, seq, mac FROM audit_chain_heads ORDER BY chain").fetch_all(pool).await?;
        let mut lines = String::new();
        let mut moved = Vec::new();
        {
            let anchored = self.anchored.lock().map_err(|_| internal("anchor state poisoned"))?;
            for r in &rows {
                let chain: String = r.try_get("chain")?;
                let seq: i64 = r.try_get("seq")?;
                let mac: String = r.try_get("mac")?;
                if seq == 0 || anchored.get(&chain) == Some(&seq) {
                    continue;
                }
                let lm = line_mac(keys, now, &chain, seq, &mac);
                lines.push_str(&format!("v1 {now} {chain} {seq} {mac} {lm}\n"));
                moved.push((chain, seq));
            }
        }
        if moved.is_empty() {
            return Ok(0);
        }
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            f.write_all(lines.as_bytes())?;
            f.sync_data()
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        let n = moved.len();
        if let Ok(mut anchored) = self.anchored.lock() {
            anchored.extend(moved);
        }
        Ok(n)
    }

    /// The newest anchor of `chain` whose line MAC checks out (lines that do not are ignored: they anchor
    /// nothing).
    pub async fn latest(&self, keys: &ServerKeys, chain: &str) -> Result<Option<Anchor>, AppError> {
        let Some(path) = self.path.clone() else { return Ok(None) };
        let wanted = chain.to_owned();
        let lines = tokio::task::spawn_blocking(move || -> Result<Vec<(i64, i64, String, String)>, AppError> {
            let f = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(internal(e)),
            };
            let mut out = Vec::new();
            for line in std::io::BufReader::new(f).lines() {
                let line = line.map_err(internal)?;
                let parts: Vec<&str> = line.split(' ').collect();
                let [v, at, c, seq, mac, lm] = parts[..] else { continue };
                if v != "v1" || c != wanted {
                    continue;
                }
                if let (Ok(at), Ok(seq)) = (at.parse::<i64>(), seq.parse::<i64>()) {
                    out.push((at, seq, mac.to_owned(), lm.to_owned()));
                }
            }
            Ok(out)
        })
        .await
        .map_err(internal)??;
        let mut best: Option<Anchor> = None;
        for (at, seq, mac, lm) in lines {
            if line_mac_ok(keys, at, chain, seq, &mac, &lm) && best.as_ref().is_none_or(|b| seq >= b.seq) {
                best = Some(Anchor { at, seq, mac });
            }
        }
        Ok(best)
    }
}

#[track_caller]
fn internal(err: impl std::fmt::Display) -> AppError {
    crate::backend::platform::failure::internal("audit anchor log", err)
}
