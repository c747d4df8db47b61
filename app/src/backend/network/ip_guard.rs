//! The per-IP global limit on failed sign-ins, across every email, and the temporary automatic blocks of IPs
//! that trip it (enforced for the console and the REST API by the server's IP-block middleware).
//!
//! An IPv6 client is counted and blocked by its /64 (one subscriber's network: rotating addresses inside it
//! gains nothing). Shared by every instance: the failures are counted in `shared_counters` (a sliding window,
//! counted in the failure's own transaction) and the blocks are rows of `ip_auto_blocks`, so failures spread
//! over N instances reach the same limit as on one, and a restart forgets nothing. Each instance answers from
//! a snapshot of the active blocks that is at most a second old (a block this instance starts applies at
//! once; another instance's within the second, or at once when PostgreSQL's notification arrives).

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sqlx::{AnyConnection, AnyPool};

use crate::backend::platform::clock::MINUTE_MS;
use crate::backend::platform::counters;

/// Failed sign-ins (wrong, throttled or suspended) one IP may make in one window.
pub const IP_FAILURE_LIMIT: u32 = 50;
/// The window of the limit.
pub const IP_WINDOW_MS: i64 = 10 * MINUTE_MS;
/// How long an IP that tripped the limit stays blocked.
pub const IP_BLOCK_MS: i64 = 15 * MINUTE_MS;
/// The oldest a snapshot of the blocks may be.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(1);

/// What an address is counted and blocked as: an IPv4 address itself, an IPv6 address's /64 network.
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(ip) => ip.to_canonical().to_string(),
        Err(_) => ip.to_owned(),
    }
}

/// What an address is counted as, as an address: an IPv4 address itself (IPv4-mapped IPv6 included), the
/// first address of an IPv6 address's /64.
pub fn counted_as(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// This instance's snapshot of the active blocks.
#[derive(Debug, Default)]
pub struct IpGuard {
    snapshot: RwLock<Snapshot>,
    /// Held by the one request that refreshes a stale snapshot; the others answer from the old one meanwhile.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Snapshot {
    loaded: Option<Instant>,
    until: HashMap<String, i64>,
}

impl IpGuard {
    /// Counts a failed sign-in from `ip` in the caller's transaction; returns the end of a block that this
    /// failure starts (once per block, whichever instance counts it).
    pub async fn count_failure(
        &self,
        conn: &mut AnyConnection,
        ip: &str,
        now: i64,
    ) -> Result<Option<i64>, sqlx::Error> {
        let ip = ip_key(ip);
        let failures = counters::sliding(conn, "sign_in_ip", &ip, IP_WINDOW_MS, now).await?;
        if failures < i64::from(IP_FAILURE_LIMIT) {
            return Ok(None);
        }
        let until = now + IP_BLOCK_MS;
        // A new block, or a lapsed one renewed: a row comes back. A block already running: none.
        let started: Option<i64> = sqlx::query_scalar(
            "INSERT INTO ip_auto_blocks (ip, blocked_until, started_at) VALUES ($1, $2, $3) \
             ON CONFLICT (ip) DO UPDATE SET blocked_until = $2, started_at = $3 \
             WHERE ip_auto_blocks.blocked_until <= $3 RETURNING blocked_until",
        )
        .bind(&ip)
        .bind(until)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        match started {
            // Applies here at once (the transaction commits before the next request can be answered).
            Some(until) => {
                if let Ok(mut snap) = self.snapshot.write() {
                    snap.until.insert(ip, until);
                }
            }
            // Another instance's block, not yet in this snapshot.
            None => self.mark_stale(),
        }
        Ok(started)
    }

    /// The end of the block of `ip`, if it is blocked now.
    pub async fn blocked_until(&self, pool: &AnyPool, ip: &str, now: i64) -> Option<i64> {
        self.refresh_if_stale(pool, now).await;
        let snap = self.snapshot.read().ok()?;
        snap.until.get(&ip_key(ip)).copied().filter(|until| *until > now)
    }

    /// How many addresses (IPv6: /64 networks) are blocked now, as this instance's snapshot has them.
    pub fn active_blocks(&self, now: i64) -> usize {
        self.snapshot.read().map(|s| s.until.values().filter(|until| **until > now).count()).unwrap_or(0)
    }

    /// Makes the next lookup read the blocks again (another instance started one).
    pub fn mark_stale(&self) {
        if let Ok(mut snap) = self.snapshot.write() {
            snap.loaded = None;
        }
    }

    async fn refresh_if_stale(&self, pool: &AnyPool, now: i64) {
        let fresh =
            |g: &Self| g.snapshot.read().is_ok_and(|s| s.loaded.is_some_and(|at| at.elapsed() < SNAPSHOT_MAX_AGE));
        if fresh(self) {
            return;
        }
        let Ok(_turn) = self.refreshing.try_lock() else { return };
        if fresh(self) {
            return;
        }
        let started = Instant::now();
        let rows: Result<Vec<(String, i64)>, _> =
            sqlx::query_as("SELECT ip, blocked_until FROM ip_auto_blocks WHERE blocked_until > $1")
                .bind(now)
                .fetch_all(pool)
                .await;
        let Ok(mut snap) = self.snapshot.write() else { return };
        // Tried again in a second either way: a database outage does not turn every request into a query.
        snap.loaded = Some(started);
        match rows {
            Ok(rows) => {
                // Blocks only ever end by time: what this instance knew and is still running stays.
                snap.until.retain(|_, until| *until > now);
                for (ip, until) in rows {
                    let e = snap.until.entry(ip).or_insert(until);
                    *e = (*e).max(until);
                }
            }
            Err(e) => tracing::warn!(error = %e, "automatic IP blocks not refreshed; the last known ones apply"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::backend::platform::db::test_pool as database;

    async fn fail(g: &IpGuard, pool: &AnyPool, ip: &str, now: i64) -> Option<i64> {
        let mut conn = pool.acquire().await.unwrap();
        g.count_failure(&mut conn, ip, now).await.unwrap()
    }

    #[tokio::test]
    async fn an_ip_is_blocked_once_at_the_limit_and_released_after() {
        let (_dir, pool) = database().await;
        let g = IpGuard::default();
        for _ in 1..IP_FAILURE_LIMIT {
            assert_eq!(fail(&g, &pool, "192.0.2.1", 1_000).await, None);
        }
        assert_eq!(g.blocked_until(&pool, "192.0.2.1", 1_000).await, None);
        assert_eq!(fail(&g, &pool, "192.0.2.1", 1_000).await, Some(1_000 + IP_BLOCK_MS));
        assert_eq!(fail(&g, &pool, "192.0.2.1", 1_500).await, None, "one start per block");
        assert_eq!(g.blocked_until(&pool, "192.0.2.1", 2_000).await, Some(1_000 + IP_BLOCK_MS));
        assert_eq!(g.blocked_until(&pool, "192.0.2.2", 2_000).await, None);
        assert_eq!(g.blocked_until(&pool, "192.0.2.1", 1_000 + IP_BLOCK_MS).await, None);
        assert_eq!((g.active_blocks(2_000), g.active_blocks(1_000 + IP_BLOCK_MS)), (1, 0));
    }

    #[tokio::test]
    async fn failures_and_blocks_are_shared_by_every_instance() {
        let (_dir, pool) = database().await;
        let (a, b) = (IpGuard::default(), IpGuard::default());
        assert_eq!(b.blocked_until(&pool, "192.0.2.9", 0).await, None, "b has a snapshot from before");
        for i in 1..IP_FAILURE_LIMIT {
            let g = if i % 2 == 0 { &a } else { &b };
            assert_eq!(fail(g, &pool, "192.0.2.9", 0).await, None);
        }
        assert!(fail(&a, &pool, "192.0.2.9", 0).await.is_some(), "the limit counts failures at both");
        assert_eq!(a.blocked_until(&pool, "192.0.2.9", 1).await, Some(IP_BLOCK_MS), "at once where it started");
        b.mark_stale();
        assert_eq!(b.blocked_until(&pool, "192.0.2.9", 1).await, Some(IP_BLOCK_MS), "and at the other");
        assert_eq!(fail(&b, &pool, "192.0.2.9", 2).await, None, "the block is started once, not per instance");
        // A new instance (a restart) knows it too.
        assert_eq!(IpGuard::default().blocked_until(&pool, "192.0.2.9", 3).await, Some(IP_BLOCK_MS));
    }

    #[tokio::test]
    async fn ipv6_addresses_count_by_their_64() {
        assert_eq!(ip_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(counted_as(a), counted_as(b), "one /64 is one client");
        assert_ne!(counted_as(a), counted_as(c));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(counted_as(mapped), "192.0.2.7".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(ip_key("::ffff:192.0.2.1"), "192.0.2.1");
        assert_eq!(ip_key("192.0.2.1"), "192.0.2.1");
        let (_dir, pool) = database().await;
        let g = IpGuard::default();
        for i in 1..IP_FAILURE_LIMIT {
            assert_eq!(fail(&g, &pool, &format!("2001:db8:1:2::{i:x}"), 0).await, None);
        }
        assert!(fail(&g, &pool, "2001:db8:1:2:ffff::9", 0).await.is_some());
        assert!(g.blocked_until(&pool, "2001:db8:1:2::abcd", 1).await.is_some());
        assert!(g.blocked_until(&pool, "2001:db8:1:3::1", 1).await.is_none());
    }

    #[tokio::test]
    async fn the_window_slides_and_an_edge_gives_no_second_budget() {
        let (_dir, pool) = database().await;
        let g = IpGuard::default();
        // Just before a window's edge, then just after it: the previous window still counts almost fully.
        let edge = 3 * IP_WINDOW_MS;
        for _ in 0..IP_FAILURE_LIMIT - 1 {
            assert_eq!(fail(&g, &pool, "192.0.2.1", edge - 1_000).await, None);
        }
        assert!(fail(&g, &pool, "192.0.2.1", edge + 1_000).await.is_some(), "no fresh budget across the edge");
        // Failures a whole window apart age out.
        let g = IpGuard::default();
        for _ in 0..IP_FAILURE_LIMIT - 1 {
            assert_eq!(fail(&g, &pool, "192.0.2.2", edge).await, None);
        }
        assert_eq!(fail(&g, &pool, "192.0.2.2", edge + 2 * IP_WINDOW_MS).await, None);
    }
}
