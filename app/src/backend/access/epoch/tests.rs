use super::*;

/// A cache with its own epoch (other tests bump the process's one concurrently).
fn cache(ttl: Duration) -> (EpochCache<u32>, &'static AtomicU64) {
    let epoch: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    (EpochCache::with(ttl, epoch), epoch)
}

#[test]
fn a_read_that_raced_with_a_change_is_not_kept() {
    let (cache, epoch) = cache(TTL);
    let read_at = epoch.load(Ordering::SeqCst);
    epoch.fetch_add(1, Ordering::SeqCst);
    cache.put("a".into(), 1, read_at);
    assert_eq!(cache.get("a"), None, "read before the change, stored after it");
    cache.put("a".into(), 2, epoch.load(Ordering::SeqCst));
    assert_eq!(cache.get("a"), Some(2));
}

#[test]
fn a_change_hides_every_entry_and_age_expires_them() {
    let (cache, epoch) = cache(TTL);
    cache.put("a".into(), 1, 0);
    assert_eq!(cache.get("a"), Some(1));
    epoch.fetch_add(1, Ordering::SeqCst);
    assert_eq!(cache.get("a"), None, "any change since the read");
    let (aged, _) = self::cache(Duration::ZERO);
    aged.put("b".into(), 2, 0);
    assert_eq!(aged.get("b"), None, "older than the TTL: another process may have changed it");
    cache.put("c".into(), 3, 1);
    assert_eq!(cache.get("c"), Some(3));
}

/// `get_or_load` notes the epoch before its load runs: a change during the load keeps the value out.
#[tokio::test]
async fn a_load_that_raced_with_a_change_is_served_but_not_kept() {
    let (cache, epoch) = cache(TTL);
    let loaded = cache.get_or_load("a", async {
        epoch.fetch_add(1, Ordering::SeqCst);
        Ok::<_, ()>(1)
    });
    assert_eq!(loaded.await, Ok(1));
    assert_eq!(cache.get("a"), None);
    assert_eq!(cache.get_or_load("a", async { Ok::<_, ()>(2) }).await, Ok(2));
    assert_eq!(cache.get_or_load("a", async { Ok::<_, ()>(3) }).await, Ok(2), "kept, not loaded again");
}

/// Requests that find a value missing at the same time read it once: the first loads, the rest are served
/// its value, and a waiter inside a render records the generation it was served.
#[tokio::test]
async fn concurrent_requests_for_a_missing_value_load_it_once() {
    let (cache, _) = cache(TTL);
    let loads = std::sync::atomic::AtomicUsize::new(0);
    let (release, gate) = tokio::sync::watch::channel(false);
    let load = || {
        let mut gate = gate.clone();
        let loads = &loads;
        async move {
            let n = loads.fetch_add(1, Ordering::SeqCst) as u32;
            let _ = gate.wait_for(|open| *open).await;
            Ok::<_, ()>(10 + n)
        }
    };
    let reads = Arc::new(RenderReads::default());
    let callers = futures_util::future::join_all((0..20).map(|i| {
        let (cache, reads, load) = (&cache, reads.clone(), load());
        async move {
            if i == 7 {
                RenderReads::scope(reads, cache.get_or_load("a", load)).await
            } else {
                cache.get_or_load("a", load).await
            }
        }
    }));
    let opener = async {
        tokio::task::yield_now().await;
        release.send_replace(true);
    };
    let (served, ()) = tokio::join!(callers, opener);
    assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for twenty callers");
    assert!(served.iter().all(|v| *v == Ok(10)), "{served:?}");
    assert!(reads.take().expect("the waiter's read recorded").current(), "served the kept value");
    assert!(cache.shared.flights.lock().expect("flights").is_empty(), "the flight left the board");
}

/// A caller that arrives after a change does not take the value of a load that began before it: it loads
/// afresh. One whose leader fails, or goes away mid-load, loads for itself instead of waiting forever.
#[tokio::test]
async fn a_load_is_shared_only_within_its_epoch_and_never_strands_its_waiters() {
    // A caller that waited on the wrong load would wait forever here: it fails instead.
    const BOUND: Duration = Duration::from_secs(5);
    let (cache, epoch) = cache(TTL);
    let (release, gate) = tokio::sync::watch::channel(false);
    let slow = |value: u32| {
        let mut gate = gate.clone();
        async move {
            let _ = gate.wait_for(|open| *open).await;
            Ok::<_, ()>(value)
        }
    };
    let before = cache.get_or_load("a", slow(1));
    let after = async {
        tokio::task::yield_now().await;
        epoch.fetch_add(1, Ordering::SeqCst);
        let served = tokio::time::timeout(BOUND, cache.get_or_load("a", async { Ok::<_, ()>(2) })).await;
        release.send_replace(true);
        served
    };
    let (before, after) = tokio::join!(before, after);
    assert_eq!((before, after), (Ok(1), Ok(Ok(2))), "the read begun before the change is not served after it");
    assert_eq!(cache.get("a"), Some(2));

    // The leader's load fails: the waiter runs its own.
    let failing = async {
        tokio::task::yield_now().await;
        Err::<u32, ()>(())
    };
    let (led, waited) = tokio::join!(
        cache.get_or_load("b", failing),
        tokio::time::timeout(BOUND, cache.get_or_load("b", async { Ok::<_, ()>(3) }))
    );
    assert_eq!((led, waited), (Err(()), Ok(Ok(3))));

    // The leader's request goes away mid-load: the waiter runs its own.
    let (_never, stuck) = tokio::sync::watch::channel(false);
    let mut leader = Box::pin(cache.get_or_load("c", async move {
        let mut stuck = stuck;
        let _ = stuck.wait_for(|open| *open).await;
        Ok::<_, ()>(4)
    }));
    assert!(futures_util::poll!(leader.as_mut()).is_pending(), "the leader is loading");
    let waiter = tokio::time::timeout(BOUND, cache.get_or_load("c", async { Ok::<_, ()>(5) }));
    let dropper = async {
        tokio::task::yield_now().await;
        drop(leader);
    };
    let (waited, ()) = tokio::join!(waiter, dropper);
    assert_eq!(waited, Ok(Ok(5)));
    assert_eq!(cache.get("c"), Some(5));
}

/// A render's reads stay current only while each value it read is the one its cache holds: a newer value, a
/// change anywhere (the epoch) or age each end it; a value loaded while the epoch moved never was current.
#[tokio::test]
async fn what_a_render_read_is_current_until_any_of_it_changes() {
    let (cache, epoch) = cache(TTL);
    cache.put("a".into(), 1, 0);
    cache.put("b".into(), 2, 0);
    let reads = Arc::new(RenderReads::default());
    RenderReads::scope(reads.clone(), async {
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get_or_load("b", async { Ok::<_, ()>(9) }).await, Ok(2));
    })
    .await;
    let set = reads.take().expect("two reads recorded");
    assert!(set.current());
    cache.put("c".into(), 3, 0);
    assert!(set.current(), "a value it did not read");
    cache.put("b".into(), 2, 0);
    assert!(!set.current(), "the same value read again is a newer read");

    let reads = Arc::new(RenderReads::default());
    RenderReads::scope(reads.clone(), async { cache.get("a") }).await;
    let set = reads.take().expect("recorded");
    assert!(set.current());
    epoch.fetch_add(1, Ordering::SeqCst);
    assert!(!set.current(), "any change since");

    let reads = Arc::new(RenderReads::default());
    let loaded = RenderReads::scope(
        reads.clone(),
        cache.get_or_load("d", async {
            epoch.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(4)
        }),
    )
    .await;
    assert_eq!(loaded, Ok(4));
    assert!(!reads.take().expect("recorded").current(), "loaded across a change: never current");

    let (aged, _) = self::cache(Duration::from_millis(30));
    aged.put("e".into(), 5, 0);
    let reads = Arc::new(RenderReads::default());
    RenderReads::scope(reads.clone(), async { aged.get("e") }).await;
    let set = reads.take().expect("recorded");
    assert!(set.current());
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert!(!set.current(), "older than the TTL");
}

#[test]
fn reads_outside_a_render_are_not_recorded() {
    let (cache, _) = cache(TTL);
    cache.put("a".into(), 1, 0);
    let reads = RenderReads::default();
    assert_eq!(cache.get("a"), Some(1));
    assert!(reads.take().is_none());
}
