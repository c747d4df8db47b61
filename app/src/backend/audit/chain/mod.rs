//! Tamper evidence for the access history. Each tenant's events (and the tenant-less ones, chain `-`) form a
//! hash chain: event n carries `seq = n`, the previous event's MAC and its own
//! `mac = HMAC-SHA-256(chain key, canonical fields ‖ prev_mac)`. The newest link is also kept in
//! `audit_chain_heads`, apart from the events, so removing the newest events is detected as well as an edited or
//! deleted one. Appending takes the head row's lock (an upsert), so concurrent writers of one chain queue up and
//! the chain stays linear on both databases.
//!
//! Canonical form (documented in the README for offline verification): the bytes `rampart-audit-v1\n`, then for
//! each field in the order of [`Link`] its UTF-8 byte length in decimal, `:`, the bytes, `\n`. Absent values
//! (no account, no key) are empty strings.

use crate::backend::platform::crypto::ServerKeys;
use sqlx::{AnyConnection, Row as _};
use std::fmt::Write as _;

/// The `prev_mac` of a chain's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The chain of events that belong to no tenant (sign-in attempts for unknown emails, unknown API keys).
pub const SYSTEM_CHAIN: &str = "-";

mod head;
pub use head::{current_head, head_mac, head_sealed, seal_head, seal_holds};

/// Feeds `fields` to `mac` in the canonical form: each one's UTF-8 byte length in decimal, `:`, its bytes, `\n`.
/// Without allocating: the history's writer seals every event (15 allocations an event before).
fn feed(mac: &mut hmac::Hmac<sha2::Sha256>, fields: &[&str]) {
    use hmac::Mac as _;
    for field in fields {
        // No string is longer than `i64::MAX` bytes.
        mac.update(Decimal::of(i64::try_from(field.len()).unwrap_or(i64::MAX)).as_str().as_bytes());
        mac.update(b":");
        mac.update(field.as_bytes());
        mac.update(b"\n");
    }
}

/// The fields a MAC covers, in canonical order.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub chain: &'a str,
    pub seq: i64,
    pub id: &'a str,
    pub created_at: i64,
    pub account_id: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub outcome: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub detail: &'a str,
    pub key_id: &'a str,
    pub prev_mac: &'a str,
}

impl Link<'_> {
    /// The MAC of this link under `key`, as lowercase hex.
    pub fn mac(&self, key: &[u8; 32]) -> String {
        use hmac::Mac as _;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        mac.update(b"rampart-audit-v1\n");
        let (seq, at) = (Decimal::of(self.seq), Decimal::of(self.created_at));
        let fields = [
            self.chain,
            seq.as_str(),
            self.id,
            at.as_str(),
            self.account_id,
            self.actor,
            self.action,
            self.outcome,
            self.ip,
            self.user_agent,
            self.detail,
            self.key_id,
            self.prev_mac,
        ];
        feed(&mut mac, &fields);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// A number in decimal, as `to_string` writes it, kept on the stack (`i64::MIN` takes 20 bytes, the most).
struct Decimal {
    bytes: [u8; 20],
    len: usize,
}

impl Decimal {
    fn of(n: i64) -> Self {
        let mut d = Decimal { bytes: [0; 20], len: 0 };
        // At most 20 bytes: this cannot fail.
        let _ = write!(d, "{n}");
        d
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl std::fmt::Write for Decimal {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The chained fields of a stored event, read from a row that selects them by name (`id, seq, created_at,
/// account_id, actor, action, outcome, ip, user_agent, detail, key_id`): what verification and re-sealing
/// recompute a MAC from.
#[derive(Debug, Clone)]
pub struct StoredLink {
    pub id: String,
    pub seq: i64,
    created_at: i64,
    account_id: Option<String>,
    actor: String,
    action: String,
    outcome: String,
    ip: String,
    user_agent: String,
    detail: String,
    key_id: Option<String>,
}

impl StoredLink {
    pub fn read(r: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get("id")?,
            seq: r.try_get("seq")?,
            created_at: r.try_get("created_at")?,
            account_id: r.try_get("account_id")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            outcome: r.try_get("outcome")?,
            ip: r.try_get("ip")?,
            user_agent: r.try_get("user_agent")?,
            detail: r.try_get("detail")?,
            key_id: r.try_get("key_id")?,
        })
    }

    /// The link of this event in `chain`, after `prev_mac`.
    pub fn link<'a>(&'a self, chain: &'a str, prev_mac: &'a str) -> Link<'a> {
        Link {
            chain,
            seq: self.seq,
            id: &self.id,
            created_at: self.created_at,
            account_id: self.account_id.as_deref().unwrap_or(""),
            actor: &self.actor,
            action: &self.action,
            outcome: &self.outcome,
            ip: &self.ip,
            user_agent: &self.user_agent,
            detail: &self.detail,
            key_id: self.key_id.as_deref().unwrap_or(""),
            prev_mac,
        }
    }
}

/// An event ready to be appended (owned, so batches can be built up front).
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub tenant_id: Option<String>,
    pub account_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    pub created_at: i64,
    pub key_id: Option<String>,
}

impl EventRow {
    fn chain(&self) -> &str {
        self.tenant_id.as_deref().unwrap_or(SYSTEM_CHAIN)
    }
}

/// The most rows one INSERT carries (16 parameters each, under every engine's limit).
const ROWS_PER_INSERT: usize = 64;

/// The rows of each INSERT that appends a batch of `n`: powers of two, largest first, none over
/// `ROWS_PER_INSERT`. Each statement text stays prepared on its connection (sqlx keeps up to 100 there), so
/// when every batch size from 1 to 64 was a text of its own, each connection came to hold up to 64 programs
/// of up to 64 rows and six indexes each: 3.5 MiB of SQLite's memory per connection after ten seconds of
/// keyed requests (`/proc/PID/smaps`, the connections' malloc arenas), and the other queries pushed out of
/// the cache to be prepared again. Seven texts, of 1 to 64 rows, hold 127 rows' worth.
pub fn insert_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let size = n.min(ROWS_PER_INSERT).checked_ilog2().map(|log| 1usize << log)?;
        n -= size;
        Some(size)
    })
}

/// The INSERT of `rows` events (a power of two up to `ROWS_PER_INSERT`), built once per process: anonymous
/// `?` placeholders (SQLite) or numbered ones (PostgreSQL).
fn insert_sql(anonymous: bool, rows: usize) -> &'static str {
    type Texts = std::sync::LazyLock<Vec<String>>;
    fn build(anonymous: bool) -> Vec<String> {
        (0..=ROWS_PER_INSERT.ilog2()).map(|log| insert_text(anonymous, 1 << log)).collect()
    }
    static ANONYMOUS: Texts = Texts::new(|| build(true));
    static NUMBERED: Texts = Texts::new(|| build(false));
    let texts = if anonymous { &ANONYMOUS } else { &NUMBERED };
    texts.get(rows.checked_ilog2().unwrap_or(0) as usize).map_or("", String::as_str)
}

fn insert_text(anonymous: bool, rows: usize) -> String {
    // On SQLite a multi-row insert that may abort on a constraint first copies every page it changes to a
    // statement journal, to undo only itself: two thirds of the page writes of the API under load (perf). `OR
    // FAIL` needs no such journal: a failing insert stops where it failed and returns the error, and the caller
    // drops the whole transaction, so nothing of the batch is kept either way.
    let verb = if anonymous { "INSERT OR FAIL INTO" } else { "INSERT INTO" };
    let mut sql = format!(
        "{verb} audit_events (id, tenant_id, account_id, actor, action, outcome, ip, user_agent, detail, \
         created_at, key_id, seq, prev_mac, mac, mac_key, ip_key) VALUES ",
    );
    for i in 0..rows {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for c in 0..16 {
            if c > 0 {
                sql.push_str(", ");
            }
            if anonymous {
                sql.push('?');
            } else {
                let _ = write!(sql, "${}", i * 16 + c + 1);
            }
        }
        sql.push(')');
    }
    sql
}

/// Appends `rows` to their chains, in order, on the caller's transaction (which must be one: the head update
/// and the inserts stand or fall together). Chains are advanced in a fixed (sorted) order so two batches
/// never wait on each other's heads crosswise.
pub async fn append(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    now: i64,
    rows: &[impl std::borrow::Borrow<EventRow>],
) -> Result<(), sqlx::Error> {
    let rows: Vec<&EventRow> = rows.iter().map(std::borrow::Borrow::borrow).collect();
    let mut chains: Vec<&str> = rows.iter().map(|r| r.chain()).collect();
    chains.sort_unstable();
    chains.dedup();
    let mut sealed: Vec<(&EventRow, i64, String, String, &str)> = Vec::with_capacity(rows.len());
    let mut heads = Vec::with_capacity(chains.len());
    for chain in chains {
        let members: Vec<&EventRow> = rows.iter().copied().filter(|r| r.chain() == chain).collect();
        let n = i64::try_from(members.len()).unwrap_or(i64::MAX);
        let head = sqlx::query(
            "INSERT INTO audit_chain_heads (chain, seq, mac, base_seq, base_mac, updated_at) \
             VALUES ($1, $2, $3, 0, $3, $4) \
             ON CONFLICT (chain) DO UPDATE SET seq = audit_chain_heads.seq + $2, updated_at = $4 \
             RETURNING seq, mac, base_seq, base_mac, row_mac",
        )
        .bind(chain)
        .bind(n)
        .bind(GENESIS)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let last: i64 = head.try_get("seq")?;
        let mut prev: String = head.try_get("mac")?;
        let base: (i64, String) = (head.try_get("base_seq")?, head.try_get("base_mac")?);
        let stored_seal: String = head.try_get("row_mac")?;
        let intact = seal_holds(keys, chain, (last - n, &prev), (base.0, &base.1), &stored_seal);
        let (key_id, key) = keys.audit_chain_key(chain);
        for (i, row) in members.into_iter().enumerate() {
            let seq = last - n + 1 + i64::try_from(i).unwrap_or(0);
            let mac = link_of(row, chain, seq, &prev).mac(&key);
            sealed.push((row, seq, std::mem::replace(&mut prev, mac.clone()), mac, key_id));
        }
        // A head whose seal no longer holds was rewritten outside Rampart: the events still go in (nothing
        // acknowledged is lost), but its seal stays broken for verification to keep reporting.
        let row_mac = if intact {
            head_mac(&key, chain, last, &prev, base.0, &base.1)
        } else {
            tracing::error!(chain, "the access history's chain head was rewritten outside Rampart; not re-sealed");
            stored_seal
        };
        heads.push((chain, prev, row_mac));
    }
    // SQLite resolves each numbered placeholder's name by a linear search of the statement's names, once per
    // parameter when sqlx binds: a 1,024-parameter insert was a fifth of the API's CPU under load (perf). Its
    // anonymous `?` placeholders bind by position with no search; PostgreSQL needs `$n`.
    let anonymous = conn.backend_name().eq_ignore_ascii_case("sqlite");
    let mut rest = sealed.as_slice();
    for size in insert_sizes(sealed.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let mut q = sqlx::query(insert_sql(anonymous, size));
        for (row, seq, prev, mac, key_id) in chunk {
            q = q
                .bind(row.id.as_str())
                .bind(row.tenant_id.as_deref())
                .bind(row.account_id.as_deref())
                .bind(row.actor.as_str())
                .bind(row.action.as_str())
                .bind(row.outcome.as_str())
                .bind(row.ip.as_str())
                .bind(row.user_agent.as_str())
                .bind(row.detail.as_str())
                .bind(row.created_at)
                .bind(row.key_id.as_deref())
                .bind(*seq)
                .bind(prev.as_str())
                .bind(mac.as_str())
                .bind(*key_id)
                .bind(ip_key(&row.ip));
        }
        q.execute(&mut *conn).await?;
    }
    // The tenant's webhook deliveries of these events, in the same transaction (`webhooks::enqueue`): one
    // statement per event only for the tenants that have an enabled endpoint (a batch of API events of a
    // tenant without webhooks costs one query, not one per event).
    let mut tenants: Vec<&str> = sealed.iter().filter_map(|(row, ..)| row.tenant_id.as_deref()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let hooked = crate::backend::webhooks::tenants_with_endpoints(&mut *conn, &tenants).await?;
    for (row, seq, ..) in &sealed {
        if let Some(tenant) = row.tenant_id.as_deref().filter(|t| hooked.iter().any(|h| h == t)) {
            crate::backend::webhooks::enqueue(&mut *conn, tenant, &row.id, *seq, &row.action, now).await?;
        }
    }
    for (chain, mac, row_mac) in heads {
        sqlx::query("UPDATE audit_chain_heads SET mac = $1, row_mac = $2 WHERE chain = $3")
            .bind(mac)
            .bind(row_mac)
            .bind(chain)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn link_of<'a>(row: &'a EventRow, chain: &'a str, seq: i64, prev: &'a str) -> Link<'a> {
    Link {
        chain,
        seq,
        id: &row.id,
        created_at: row.created_at,
        account_id: row.account_id.as_deref().unwrap_or(""),
        actor: &row.actor,
        action: &row.action,
        outcome: &row.outcome,
        ip: &row.ip,
        user_agent: &row.user_agent,
        detail: &row.detail,
        key_id: row.key_id.as_deref().unwrap_or(""),
        prev_mac: prev,
    }
}

/// The searchable form of a client address: 32 hex digits, IPv4 mapped into IPv6 (`None` for "unknown").
pub fn ip_key(ip: &str) -> Option<String> {
    ip.parse::<std::net::IpAddr>().ok().map(crate::backend::keys::guard::ip_key)
}

/// Rows never sealed into a chain, oldest first: (id, chain, time, action, actor). Shown by `rampart audit
/// seal-unchained` before anything is sealed.
pub async fn list_unchained(
    pool: &sqlx::AnyPool,
) -> Result<Vec<(String, String, i64, String, String)>, crate::model::AppError> {
    let rows = sqlx::query(
        "SELECT id, COALESCE(tenant_id, '-') AS chain, created_at, action, actor FROM audit_events \
         WHERE seq IS NULL ORDER BY created_at, id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("chain")?,
                r.try_get("created_at")?,
                r.try_get("action")?,
                r.try_get("actor")?,
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?)
}

/// Chains rows never sealed (an upgraded database), oldest first, in batches. Only the operator's explicit
/// `rampart audit seal-unchained --yes` calls this, after listing them: never a start-up path.
pub async fn seal_unchained(pool: &sqlx::AnyPool, keys: &ServerKeys, now: i64) -> Result<u64, sqlx::Error> {
    let mut sealed = 0u64;
    loop {
        let mut tx = crate::backend::platform::db::begin_write(pool).await?;
        let rows = sqlx::query(
            "SELECT id, tenant_id, account_id, actor, action, outcome, ip, user_agent, detail, created_at, key_id \
             FROM audit_events WHERE seq IS NULL ORDER BY created_at, id LIMIT 1000",
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(sealed);
        }
        let events = rows.iter().map(row_to_event).collect::<Result<Vec<_>, _>>()?;
        for e in &events {
            sqlx::query("DELETE FROM audit_events WHERE id = $1").bind(&e.id).execute(&mut *tx).await?;
        }
        append(&mut tx, keys, now, &events).await?;
        tx.commit().await?;
        sealed += events.len() as u64;
    }
}

fn row_to_event(r: &sqlx::any::AnyRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        account_id: r.try_get("account_id")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        outcome: r.try_get("outcome")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        detail: r.try_get("detail")?,
        created_at: r.try_get("created_at")?,
        key_id: r.try_get("key_id")?,
    })
}

#[cfg(test)]
mod tests;
