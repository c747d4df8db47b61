//! Re-sealing a tenant's chain after its events were lawfully rewritten (a member's erasure replaces their
//! email, IP and user agent with a pseudonym). Every event from the first rewritten one to the head gets a new
//! `prev_mac`/`mac` under the chain's current key, and the head follows, so `audit verify` stays green while
//! the personal data is gone. The caller owns the transaction: the rewrite, the re-seal and the event that
//! records both (its detail names the range and the old head MAC, so an auditor holding an older export can
//! tell why later MACs changed) commit together or not at all.
//!
//! Policy: re-sealing never launders tampering: the caller verifies the chain before rewriting it, and a gap
//! met here aborts the transaction. The head row is locked first (`lock_head`), so no append slips in between the rewrite and the
//! re-seal; events are read in batches of `BATCH` by `seq` (constant memory for any chain length).

use super::chain::{StoredLink, GENESIS, SYSTEM_CHAIN};
use crate::backend::platform::crypto::ServerKeys;
use sqlx::{AnyConnection, Row as _};

/// Events read per query.
const BATCH: i64 = 1000;

/// A chain's head as locked by `lock_head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedHead {
    pub chain: String,
    pub seq: i64,
    pub mac: String,
    pub base_seq: i64,
    pub base_mac: String,
}

/// What a re-seal did: the range of `seq` it sealed again (empty when `from > to`) and the head MAC before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub from: i64,
    pub to: i64,
    pub events: u64,
    pub old_head_mac: String,
    pub new_head_mac: String,
}

/// Locks the head of `chain` for the rest of the caller's transaction (appends to the chain wait), creating it
/// when the chain has none yet.
pub async fn lock_head(conn: &mut AnyConnection, chain: &str, now: i64) -> Result<LockedHead, sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO audit_chain_heads (chain, seq, mac, base_seq, base_mac, updated_at) VALUES ($1, 0, $2, 0, $2, $3) \
         ON CONFLICT (chain) DO UPDATE SET updated_at = $3 RETURNING seq, mac, base_seq, base_mac",
    )
    .bind(chain)
    .bind(GENESIS)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(LockedHead {
        chain: chain.to_owned(),
        seq: row.try_get("seq")?,
        mac: row.try_get("mac")?,
        base_seq: row.try_get("base_seq")?,
        base_mac: row.try_get("base_mac")?,
    })
}

/// Seals the events of `head.chain` from `from_seq` (at the earliest the first event after the retention
/// checkpoint) to the head again, in `seq` order, and moves the head to the new last MAC.
pub async fn reseal(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    head: &LockedHead,
    from_seq: i64,
) -> Result<Resealed, sqlx::Error> {
    let chain = head.chain.as_str();
    let from = from_seq.max(head.base_seq + 1);
    let mut report =
        Resealed { from, to: head.seq, events: 0, old_head_mac: head.mac.clone(), new_head_mac: head.mac.clone() };
    if from > head.seq {
        return Ok(report);
    }
    // A head rewritten outside Rampart keeps its broken seal: the events are re-sealed (the erasure goes on),
    // the head is not signed over the rewrite.
    let sealed = super::chain::head_sealed(&mut *conn, keys, chain).await?;
    let tenant = if chain == SYSTEM_CHAIN { "tenant_id IS NULL AND $1 = '-'" } else { "tenant_id = $1" };
    let mut prev = if from == head.base_seq + 1 {
        head.base_mac.clone()
    } else {
        let sql = format!("SELECT mac FROM audit_events WHERE {tenant} AND seq = $2");
        sqlx::query(&sql).bind(chain).bind(from - 1).fetch_one(&mut *conn).await?.try_get("mac")?
    };
    let (key_id, key) = keys.audit_chain_key(chain);
    let select = format!(
        "SELECT id, seq, created_at, account_id, actor, action, outcome, ip, user_agent, detail, key_id \
         FROM audit_events WHERE {tenant} AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT {BATCH}"
    );
    let mut next = from;
    while next <= head.seq {
        let rows = sqlx::query(&select).bind(chain).bind(next).bind(head.seq).fetch_all(&mut *conn).await?;
        if rows.is_empty() {
            break;
        }
        let mut sealed = Vec::with_capacity(rows.len());
        for r in &rows {
            let event = StoredLink::read(r)?;
            let seq = event.seq;
            if seq != next {
                // Never seal over a gap: that would launder a removal that verification must keep reporting.
                return Err(sqlx::Error::Protocol(format!("chain {chain} has a gap at #{next}; not re-sealed")));
            }
            let mac = event.link(chain, &prev).mac(&key);
            sealed.push((event.id, std::mem::replace(&mut prev, mac.clone()), mac));
            next = seq + 1;
        }
        for (id, prev_mac, mac) in &sealed {
            sqlx::query("UPDATE audit_events SET prev_mac = $1, mac = $2, mac_key = $3 WHERE id = $4")
                .bind(prev_mac)
                .bind(mac)
                .bind(key_id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        report.events += sealed.len() as u64;
    }
    sqlx::query("UPDATE audit_chain_heads SET mac = $1 WHERE chain = $2")
        .bind(&prev)
        .bind(chain)
        .execute(&mut *conn)
        .await?;
    if sealed {
        super::chain::seal_head(&mut *conn, keys, chain).await?;
    }
    report.new_head_mac = prev;
    Ok(report)
}
