//! Exporting the filtered access history as CSV or JSON, streamed: rows are read from a database cursor and
//! handed on in chunks of about 64 KiB through a bounded channel, so memory stays constant whatever the size
//! and a slow client slows the reader down. Every row carries its chain values (`seq`, `prev_mac`, `mac`,
//! `mac_key`) so the export can be verified offline with the tenant's chain key (README: "Verifying an export").

use super::super::context::{Granted, TenantCtx};
use super::query::{bind_all, where_clause, EventFilter};
use crate::model::AppError;
use futures_util::TryStreamExt as _;
use sqlx::{AnyPool, Row as _};
use tokio::sync::mpsc;

/// The export's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &str =
    "id,seq,time_utc,created_at_ms,action,outcome,actor,account_id,ip,user_agent,key_id,detail,prev_mac,mac,mac_key";

const CHUNK: usize = 64 * 1024;

/// How many events the filter selects (for the progress indicator); checks the filter too.
pub async fn count(pool: &AnyPool, ctx: &TenantCtx, _granted: &Granted, filter: &EventFilter) -> Result<i64, AppError> {
    let (clause, binds) = where_clause(ctx, &EventFilter { cursor: None, ..filter.clone() })?;
    let sql = format!("SELECT COUNT(*) AS n FROM audit_events{clause}");
    Ok(bind_all(sqlx::query(&sql), binds).fetch_one(pool).await?.try_get("n")?)
}

/// Writes the filtered events, newest first, to `sink` in `format`; returns how many. An error (or a receiver
/// that went away) ends the export; the caller turns an error into a broken download, never a short file that
/// looks complete.
pub async fn stream(
    pool: &AnyPool,
    ctx: &TenantCtx,
    _granted: &Granted,
    filter: &EventFilter,
    format: Format,
    exported_at: i64,
    sink: mpsc::Sender<Vec<u8>>,
) -> Result<u64, AppError> {
    let (clause, binds) = where_clause(ctx, &EventFilter { cursor: None, ..filter.clone() })?;
    let sql = format!(
        "SELECT id, seq, created_at, action, outcome, actor, account_id, ip, user_agent, key_id, detail, prev_mac, mac, \
         mac_key FROM audit_events{clause} ORDER BY created_at DESC, id DESC"
    );
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    match format {
        Format::Csv => {
            buf.extend_from_slice(CSV_COLUMNS.as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
        Format::Json => {
            let head = serde_json::json!({
                "format": "rampart-access-history-v1",
                "tenant_id": ctx.tenant_id.as_str(),
                "exported_at_ms": exported_at,
            })
            .to_string();
            buf.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
            buf.extend_from_slice(b",\"events\":[");
        }
    }
    let mut rows = bind_all(sqlx::query(&sql), binds).fetch(pool);
    let mut n = 0u64;
    while let Some(r) = rows.try_next().await? {
        let e = ExportRow {
            id: r.try_get("id")?,
            seq: r.try_get("seq")?,
            created_at: r.try_get("created_at")?,
            action: r.try_get("action")?,
            outcome: r.try_get("outcome")?,
            actor: r.try_get("actor")?,
            account_id: r.try_get("account_id")?,
            ip: r.try_get("ip")?,
            user_agent: r.try_get("user_agent")?,
            key_id: r.try_get("key_id")?,
            detail: r.try_get("detail")?,
            prev_mac: r.try_get("prev_mac")?,
            mac: r.try_get("mac")?,
            mac_key: r.try_get("mac_key")?,
        };
        match format {
            Format::Csv => e.write_csv(&mut buf),
            Format::Json => {
                if n > 0 {
                    buf.push(b',');
                }
                buf.push(b'\n');
                serde_json::to_writer(&mut buf, &e.json()).map_err(|e| {
                    let op_id = super::super::crypto::op_id();
                    tracing::error!(op_id = %op_id, error = %e, "serialising an exported event failed");
                    AppError::Internal { op_id }
                })?;
            }
        }
        n += 1;
        if buf.len() >= CHUNK && sink.send(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096))).await.is_err()
        {
            return Ok(n);
        }
    }
    if format == Format::Json {
        buf.extend_from_slice(format!("\n],\"count\":{n}}}\n").as_bytes());
    }
    // A receiver that went away has nothing left to tell.
    let _ = sink.send(buf).await;
    Ok(n)
}

struct ExportRow {
    id: String,
    seq: Option<i64>,
    created_at: i64,
    action: String,
    outcome: String,
    actor: String,
    account_id: Option<String>,
    ip: String,
    user_agent: String,
    key_id: Option<String>,
    detail: String,
    prev_mac: Option<String>,
    mac: Option<String>,
    mac_key: Option<String>,
}

impl ExportRow {
    fn write_csv(&self, out: &mut Vec<u8>) {
        let seq = self.seq.map(|s| s.to_string()).unwrap_or_default();
        let at = self.created_at.to_string();
        let time = iso_utc(self.created_at);
        let fields: [&str; 15] = [
            &self.id,
            &seq,
            &time,
            &at,
            &self.action,
            &self.outcome,
            &self.actor,
            self.account_id.as_deref().unwrap_or(""),
            &self.ip,
            &self.user_agent,
            self.key_id.as_deref().unwrap_or(""),
            &self.detail,
            self.prev_mac.as_deref().unwrap_or(""),
            self.mac.as_deref().unwrap_or(""),
            self.mac_key.as_deref().unwrap_or(""),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            csv_field(out, f);
        }
        out.extend_from_slice(b"\r\n");
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "seq": self.seq,
            "time_utc": iso_utc(self.created_at),
            "created_at_ms": self.created_at,
            "action": self.action,
            "outcome": self.outcome,
            "actor": self.actor,
            "account_id": self.account_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "key_id": self.key_id,
            "detail": self.detail,
            "prev_mac": self.prev_mac,
            "mac": self.mac,
            "mac_key": self.mac_key,
        })
    }
}

/// One CSV field (RFC 4180 quoting). A value a spreadsheet would run as a formula (first character `=`, `+`,
/// `-`, `@`, tab or carriage return — user agents and attempted emails are attacker-chosen) gets a leading
/// apostrophe, and so does a value that already starts with one, so the rule is reversible: to verify, drop one
/// leading apostrophe whenever a field starts with it.
pub fn csv_field(out: &mut Vec<u8>, value: &str) {
    let guard = value.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']);
    let quote = guard || value.contains([',', '"', '\n', '\r']);
    if quote {
        out.push(b'"');
    }
    if guard {
        out.push(b'\'');
    }
    for b in value.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    if quote {
        out.push(b'"');
    }
}

/// Epoch milliseconds as RFC 3339 UTC with milliseconds.
pub fn iso_utc(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str) -> String {
        let mut out = Vec::new();
        csv_field(&mut out, v);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("'quoted"), "\"''quoted\"");
        assert_eq!(field("-"), "\"'-\"");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_764_126_245_123), "2025-11-26T03:04:05.123Z");
    }
}
