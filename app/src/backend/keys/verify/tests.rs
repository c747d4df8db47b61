#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn key() -> Arc<ActiveKey> {
    Arc::new(ActiveKey {
        id: "k".into(),
        tenant_id: TenantId("t".into()),
        tenant_name: "T".into(),
        kind: KeyKind::Read,
        scopes: Scopes::all(Access::Read),
        description: String::new(),
        ips: Vec::new(),
        referers: Vec::new(),
        rate_per_hour: None,
        expires_at: i64::MAX,
        revoked: false,
        frozen: false,
        generation: 1,
        digest: "d".into(),
        display_prefix: "p".into(),
        prev_display_prefix: None,
        prev_expires_at: None,
        last_activity: 0,
        disable_unused_days: None,
        owner_membership_id: "m".into(),
        owner_account_id: "a".into(),
        maker_admin: true,
        closes_at: None,
        auth_failures: 0,
        reset_sent: std::sync::atomic::AtomicBool::new(false),
        machines_only: false,
    })
}

/// A verification that read the row, then paused while a revoke committed and emptied the cache, must not
/// put the stale row back (finding 8 of the attack review).
#[test]
fn a_lookup_paused_across_an_invalidation_caches_nothing() {
    let guard = KeyGuard::default();
    let read_at = guard.epoch();
    guard.invalidate_all();
    guard.remember("d".into(), key(), 0, read_at);
    assert!(guard.cached("d", 0).is_none(), "the stale read came back into the cache");
    let read_at = guard.epoch();
    guard.remember("d".into(), key(), 0, read_at);
    assert!(guard.cached("d", 0).is_some(), "an undisturbed lookup is cached");
}

/// Rotating addresses inside one IPv6 /64 does not reset a key's hourly limit (finding 10).
#[tokio::test]
async fn the_hourly_limit_counts_an_ipv6_client_by_its_64() {
    let (_dir, pool) = crate::backend::platform::db::test_pool().await;
    let guard = KeyGuard::default();
    let mut k = Arc::try_unwrap(key()).ok().unwrap();
    k.rate_per_hour = Some(2);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(guard.count(&pool, &k, ip("2001:db8:0:1::1"), 0).await.unwrap().is_ok());
    assert!(guard.count(&pool, &k, ip("2001:db8:0:1::2"), 0).await.unwrap().is_ok());
    let third = guard.count(&pool, &k, ip("2001:db8:0:1:dead:beef:0:3"), 0).await.unwrap();
    assert!(third.is_err(), "a new address in the /64 is refused");
    assert!(guard.count(&pool, &k, ip("2001:db8:0:2::1"), 0).await.unwrap().is_ok(), "another /64 is another client");
    assert_eq!(guard.count(&pool, &k, ip("2001:db8:0:1::1"), HOUR_MS - 1_000).await.unwrap(), Err(1));
    assert!(guard.count(&pool, &k, ip("2001:db8:0:1::1"), HOUR_MS).await.unwrap().is_ok(), "a new hour");
}

/// Two instances (two guards, one database) share one budget: N instances give a key's client no more.
#[tokio::test]
async fn the_hourly_limit_is_shared_by_every_instance() {
    let (_dir, pool) = crate::backend::platform::db::test_pool().await;
    let (a, b) = (KeyGuard::default(), KeyGuard::default());
    let mut k = Arc::try_unwrap(key()).ok().unwrap();
    k.rate_per_hour = Some(3);
    let ip: IpAddr = "192.0.2.4".parse().unwrap();
    let mut accepted = 0;
    for i in 0..10 {
        let g = if i % 2 == 0 { &a } else { &b };
        accepted += usize::from(g.count(&pool, &k, ip, 5).await.unwrap().is_ok());
    }
    assert_eq!(accepted, 3);
}

/// One canary email per window, whichever instance sees the canary.
#[tokio::test]
async fn the_canary_email_throttle_is_shared() {
    let (_dir, pool) = crate::backend::platform::db::test_pool().await;
    let (a, b) = (KeyGuard::default(), KeyGuard::default());
    assert!(a.canary_email_due(&pool, "k", 1_000).await);
    assert!(!b.canary_email_due(&pool, "k", 2_000).await, "the other instance knows it was sent");
    assert!(!a.canary_email_due(&pool, "k", 3_000).await);
    assert!(b.canary_email_due(&pool, "other", 3_000).await, "per key");
    assert!(b.canary_email_due(&pool, "k", 10 * MINUTE_MS + 1).await, "the next window");
}
