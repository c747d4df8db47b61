//! Checking a chain end to end: every event in `seq` order from the retention checkpoint, each MAC recomputed,
//! each link to its predecessor, and the last event against the separately stored head. Streams the events,
//! so a chain of any length is checked in constant memory. The first broken link is reported.

use super::anchor::{Anchor, AnchorLog};
use super::chain::{StoredLink, SYSTEM_CHAIN};
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::platform::crypto::ServerKeys;
use crate::model::{AppError, ChainReportView};
use futures_util::TryStreamExt as _;
use sqlx::{AnyPool, Row as _};

/// Checks the chain of the context's tenant.
pub async fn verify_tenant(
    pool: &AnyPool,
    keys: &ServerKeys,
    anchors: &AnchorLog,
    ctx: &TenantCtx,
    _granted: &Granted<perm::AccessHistory>,
) -> Result<ChainReportView, AppError> {
    verify_chain(pool, keys, anchors, ctx.tenant_id().as_str()).await
}

/// Every chain with a head: the tenants' and the tenant-less one.
pub async fn list_chains(pool: &AnyPool) -> Result<Vec<String>, AppError> {
    let rows = sqlx::query("SELECT chain FROM audit_chain_heads ORDER BY chain").fetch_all(pool).await?;
    Ok(rows.iter().map(|r| r.try_get("chain")).collect::<Result<_, _>>()?)
}

/// Checks one chain (a tenant id, or `-` for the tenant-less events), in one consistent snapshot of the
/// database: the head and the events are read in one read-only transaction (repeatable read on PostgreSQL,
/// a read transaction on SQLite in WAL mode), so an event appended meanwhile is neither seen nor a false alarm.
pub async fn verify_chain(
    pool: &AnyPool,
    keys: &ServerKeys,
    anchors: &AnchorLog,
    chain: &str,
) -> Result<ChainReportView, AppError> {
    // Read before the snapshot: an anchor written meanwhile can only be older than what the snapshot sees.
    let anchor = anchors.latest(keys, chain).await?;
    let mut tx = pool.begin().await?;
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    }
    let report = verify_in(&mut tx, keys, chain, anchor.as_ref()).await;
    tx.rollback().await?;
    report
}

async fn verify_in(
    tx: &mut sqlx::AnyConnection,
    keys: &ServerKeys,
    chain: &str,
    anchor: Option<&Anchor>,
) -> Result<ChainReportView, AppError> {
    let head = sqlx::query("SELECT seq, mac, base_seq, base_mac, row_mac FROM audit_chain_heads WHERE chain = $1")
        .bind(chain)
        .fetch_optional(&mut *tx)
        .await?;
    let mut report = ChainReportView { chain: chain.to_owned(), ..ChainReportView::default() };
    let (head_seq, head_mac, base_seq, base_mac, row_mac) = match head {
        Some(h) => (
            h.try_get::<i64, _>("seq")?,
            h.try_get::<String, _>("mac")?,
            h.try_get::<i64, _>("base_seq")?,
            h.try_get::<String, _>("base_mac")?,
            Some(h.try_get::<String, _>("row_mac")?),
        ),
        None => (0, super::chain::GENESIS.to_owned(), 0, super::chain::GENESIS.to_owned(), None),
    };
    report.head_seq = head_seq;
    report.first_seq = base_seq + 1;
    // The head and checkpoint are sealed too: rewriting either to hide removed events breaks this MAC.
    if let Some(row_mac) = &row_mac {
        let sealed = keys.audit_chain_keys(chain).iter().any(|(_, key)| {
            let want = super::chain::head_mac(key, chain, head_seq, &head_mac, base_seq, &base_mac);
            crate::backend::platform::crypto::constant_time_eq(want.as_bytes(), row_mac.as_bytes())
        });
        if !sealed {
            let what = format!("the chain's head (#{head_seq}) or retention checkpoint (#{base_seq}) was rewritten");
            return Ok(report.broken(head_seq, None, what));
        }
    }
    // The database may not be behind what was anchored outside it.
    if let Some(a) = anchor {
        if head_seq < a.seq {
            let what = format!(
                "the database ends at #{head_seq}, behind the anchor of {} at #{} (events were removed)",
                crate::model::format_utc(a.at),
                a.seq
            );
            return Ok(report.broken(head_seq + 1, None, what));
        }
    }
    let tenant_clause = if chain == SYSTEM_CHAIN { "tenant_id IS NULL AND $2 = '-'" } else { "tenant_id = $2" };
    let sql = format!(
        "SELECT id, seq, created_at, account_id, actor, action, outcome, ip, user_agent, detail, key_id, prev_mac, \
         mac, mac_key FROM audit_events WHERE {tenant_clause} AND seq > $1 ORDER BY seq"
    );
    let outside: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE {tenant_clause} AND (seq IS NULL OR seq > $1)"
    ))
    .bind(head_seq)
    .bind(chain)
    .fetch_one(&mut *tx)
    .await?;
    if outside > 0 {
        let what = format!("{outside} event(s) lie outside the chain (never sealed, or past its head #{head_seq})");
        return Ok(report.broken(head_seq + 1, None, what));
    }
    let mut rows = sqlx::query(&sql).bind(base_seq).bind(chain).fetch(&mut *tx);
    let mut expected = base_seq + 1;
    let mut prev = base_mac;
    let mut keys_by_id: Vec<(String, [u8; 32])> = keys.audit_chain_keys(chain);
    while let Some(r) = rows.try_next().await? {
        let event = StoredLink::read(&r)?;
        let (seq, id) = (event.seq, event.id.clone());
        if seq != expected {
            return Ok(report.broken(expected, None, format!("event #{expected} is missing (the next one is #{seq})")));
        }
        let stored_prev: String = r.try_get("prev_mac")?;
        let mac: String = r.try_get("mac")?;
        let key_id: String = r.try_get("mac_key")?;
        let link = event.link(chain, &prev);
        let Some(chain_key) = chain_key(keys, &mut keys_by_id, &key_id, chain) else {
            return Ok(report.broken(seq, Some(id), format!("event #{seq} was sealed with a key this server lacks")));
        };
        if stored_prev != prev
            || !crate::backend::platform::crypto::constant_time_eq(link.mac(&chain_key).as_bytes(), mac.as_bytes())
        {
            return Ok(report.broken(seq, Some(id), format!("event #{seq} was altered")));
        }
        if let Some(a) = anchor.filter(|a| a.seq == seq) {
            if !crate::backend::platform::crypto::constant_time_eq(a.mac.as_bytes(), mac.as_bytes()) {
                let what = format!(
                    "event #{seq} differs from the anchor of {} (the chain was rewritten)",
                    crate::model::format_utc(a.at)
                );
                return Ok(report.broken(seq, Some(id), what));
            }
        }
        report.checked += 1;
        prev = mac;
        expected += 1;
    }
    let last = expected - 1;
    if last < head_seq {
        let what = format!("events #{expected} to #{head_seq} are missing (the newest events were removed)");
        return Ok(report.broken(expected, None, what));
    }
    if last > head_seq || prev != head_mac {
        return Ok(report.broken(last, None, format!("the chain does not end at its recorded head #{head_seq}")));
    }
    report.ok = true;
    Ok(report)
}

fn chain_key(keys: &ServerKeys, cache: &mut Vec<(String, [u8; 32])>, key_id: &str, chain: &str) -> Option<[u8; 32]> {
    if let Some((_, k)) = cache.iter().find(|(i, _)| i == key_id) {
        return Some(*k);
    }
    let k = keys.audit_chain_key_by_id(key_id, chain)?;
    cache.push((key_id.to_owned(), k));
    Some(k)
}

impl ChainReportView {
    fn broken(mut self, seq: i64, event_id: Option<String>, problem: String) -> Self {
        self.ok = false;
        self.broken_seq = Some(seq);
        self.broken_event = event_id;
        self.problem = Some(problem);
        self
    }
}
