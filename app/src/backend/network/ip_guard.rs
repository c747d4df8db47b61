//! The per-IP global limit on failed sign-ins, across every email, and the temporary automatic blocks of IPs
//! that trip it (enforced for the console and the REST API by the server's IP-block middleware).
//!
//! An IPv6 client is counted and blocked by its /64 (one subscriber's network: rotating addresses inside it
//! gains nothing). In memory, per instance: with N instances behind a balancer an IP gets up to N × the limit before every
//! instance blocks it, and a restart forgets blocks. The per-account counters, which protect the accounts,
//! are in the database; this limit only slows down credential stuffing and spraying from one address.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::backend::platform::clock::MINUTE_MS;

/// Failed sign-ins (wrong, throttled or suspended) one IP may make in one window.
pub const IP_FAILURE_LIMIT: u32 = 50;
/// The window of the limit.
pub const IP_WINDOW_MS: i64 = 10 * MINUTE_MS;
/// How long an IP that tripped the limit stays blocked.
pub const IP_BLOCK_MS: i64 = 15 * MINUTE_MS;
/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

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

/// Failure counts and blocks of this instance.
#[derive(Debug, Default)]
pub struct IpGuard {
    failures: Mutex<HashMap<String, (i64, u32)>>,
    blocked: Mutex<HashMap<String, i64>>,
}

impl IpGuard {
    /// Counts a failed sign-in from `ip`; returns the end of a block that this failure starts (once per block).
    pub fn count_failure(&self, ip: &str, now: i64) -> Option<i64> {
        let ip = ip_key(ip);
        let Ok(mut failures) = self.failures.lock() else { return None };
        if failures.len() >= SWEEP_AT {
            failures.retain(|_, (start, _)| now - *start < IP_WINDOW_MS);
        }
        let entry = failures.entry(ip.clone()).or_insert((now, 0));
        if now - entry.0 >= IP_WINDOW_MS || now < entry.0 {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 < IP_FAILURE_LIMIT {
            return None;
        }
        *entry = (now, 0);
        drop(failures);
        let Ok(mut blocked) = self.blocked.lock() else { return None };
        if blocked.len() >= SWEEP_AT {
            blocked.retain(|_, until| *until > now);
        }
        let until = now + IP_BLOCK_MS;
        match blocked.insert(ip, until) {
            Some(previous) if previous > now => None,
            _ => Some(until),
        }
    }

    /// How many addresses (IPv6: /64 networks) are blocked now.
    pub fn active_blocks(&self, now: i64) -> usize {
        self.blocked.lock().map(|b| b.values().filter(|until| **until > now).count()).unwrap_or(0)
    }

    /// The end of the block of `ip`, if it is blocked now.
    pub fn blocked_until(&self, ip: &str, now: i64) -> Option<i64> {
        let Ok(blocked) = self.blocked.lock() else { return None };
        blocked.get(&ip_key(ip)).copied().filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_ip_is_blocked_once_at_the_limit_and_released_after() {
        let g = IpGuard::default();
        for _ in 1..IP_FAILURE_LIMIT {
            assert_eq!(g.count_failure("192.0.2.1", 1_000), None);
        }
        assert_eq!(g.blocked_until("192.0.2.1", 1_000), None);
        assert_eq!(g.count_failure("192.0.2.1", 1_000), Some(1_000 + IP_BLOCK_MS));
        assert_eq!(g.blocked_until("192.0.2.1", 2_000), Some(1_000 + IP_BLOCK_MS));
        assert_eq!(g.blocked_until("192.0.2.2", 2_000), None);
        assert_eq!(g.blocked_until("192.0.2.1", 1_000 + IP_BLOCK_MS), None);
        assert_eq!((g.active_blocks(2_000), g.active_blocks(1_000 + IP_BLOCK_MS)), (1, 0));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
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
        let g = IpGuard::default();
        for i in 1..IP_FAILURE_LIMIT {
            assert_eq!(g.count_failure(&format!("2001:db8:1:2::{i:x}"), 0), None);
        }
        assert!(g.count_failure("2001:db8:1:2:ffff::9", 0).is_some());
        assert!(g.blocked_until("2001:db8:1:2::abcd", 1).is_some());
        assert!(g.blocked_until("2001:db8:1:3::1", 1).is_none());
    }

    #[test]
    fn the_window_starts_again() {
        let g = IpGuard::default();
        for _ in 1..IP_FAILURE_LIMIT {
            assert_eq!(g.count_failure("192.0.2.1", 0), None);
        }
        assert_eq!(g.count_failure("192.0.2.1", IP_WINDOW_MS), None);
    }
}
