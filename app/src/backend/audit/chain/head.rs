//! The head row of a chain: its seal (`row_mac`, a MAC of the newest link and the retention checkpoint under
//! the chain key), reading it, checking it and signing it again.

use super::{feed, Decimal, GENESIS};
use crate::backend::platform::crypto::ServerKeys;
use sqlx::{AnyConnection, Row as _};

/// The MAC of a chain's head row (newest link and retention checkpoint) under `key`, as lowercase hex: the
/// bytes `rampart-audit-head-v1\n`, then chain, seq, mac, base seq, base mac in the canonical field form.
pub fn head_mac(key: &[u8; 32], chain: &str, seq: i64, mac: &str, base_seq: i64, base_mac: &str) -> String {
    use hmac::Mac as _;
    let mut h = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    h.update(b"rampart-audit-head-v1\n");
    let (seq, base_seq) = (Decimal::of(seq), Decimal::of(base_seq));
    feed(&mut h, &[chain, seq.as_str(), mac, base_seq.as_str(), base_mac]);
    hex::encode(h.finalize().into_bytes())
}

/// Whether a head row's seal (`row_mac`) is one of the chain's keys' MAC of its fields. A fresh chain (#0, the
/// genesis link, no checkpoint) has nothing to protect yet. Appends, purges and re-seals re-sign a head only
/// when this holds: re-signing a head a database writer rewrote would launder the rewrite, since verification
/// trusts a sealed head.
pub fn seal_holds(keys: &ServerKeys, chain: &str, (seq, mac): (i64, &str), base: (i64, &str), row_mac: &str) -> bool {
    if seq == 0 && mac == GENESIS && base.0 == 0 {
        return true;
    }
    keys.audit_chain_keys(chain).iter().any(|(_, key)| {
        let want = head_mac(key, chain, seq, mac, base.0, base.1);
        crate::backend::platform::crypto::constant_time_eq(want.as_bytes(), row_mac.as_bytes())
    })
}

/// Whether the head row of `chain` (if any) is sealed as it stands, read in the caller's transaction.
pub async fn head_sealed(conn: &mut AnyConnection, keys: &ServerKeys, chain: &str) -> Result<bool, sqlx::Error> {
    let Some(h) = sqlx::query("SELECT seq, mac, base_seq, base_mac, row_mac FROM audit_chain_heads WHERE chain = $1")
        .bind(chain)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(true);
    };
    let (mac, base_mac, row_mac): (String, String, String) =
        (h.try_get("mac")?, h.try_get("base_mac")?, h.try_get("row_mac")?);
    Ok(seal_holds(keys, chain, (h.try_get("seq")?, &mac), (h.try_get("base_seq")?, &base_mac), &row_mac))
}

/// The chain's head as it stands: (seq, mac); (0, GENESIS) for a chain without events. Every history export
/// and alert digest carries it, so the tenant holds copies of the head outside Rampart's database.
pub async fn current_head(pool: &sqlx::AnyPool, chain: &str) -> Result<(i64, String), sqlx::Error> {
    let row =
        sqlx::query("SELECT seq, mac FROM audit_chain_heads WHERE chain = $1").bind(chain).fetch_optional(pool).await?;
    Ok(match row {
        Some(r) => (r.try_get("seq")?, r.try_get("mac")?),
        None => (0, GENESIS.to_owned()),
    })
}

/// Re-seals the head row of `chain` as it now stands (after a purge or a re-seal changed it), in the caller's
/// transaction.
pub async fn seal_head(conn: &mut AnyConnection, keys: &ServerKeys, chain: &str) -> Result<(), sqlx::Error> {
    let Some(h) = sqlx::query("SELECT seq, mac, base_seq, base_mac FROM audit_chain_heads WHERE chain = $1")
        .bind(chain)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(());
    };
    let (_, key) = keys.audit_chain_key(chain);
    let row_mac = head_mac(
        &key,
        chain,
        h.try_get("seq")?,
        &h.try_get::<String, _>("mac")?,
        h.try_get("base_seq")?,
        &h.try_get::<String, _>("base_mac")?,
    );
    sqlx::query("UPDATE audit_chain_heads SET row_mac = $1 WHERE chain = $2")
        .bind(row_mac)
        .bind(chain)
        .execute(conn)
        .await?;
    Ok(())
}
