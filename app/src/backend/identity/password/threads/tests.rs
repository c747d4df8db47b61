//! The hashing threads: priorities, rescues, the shared memory and its trimming.

use super::super::Hasher;
use super::*;
use secrecy::SecretString;

/// A thread's nice value, read from `/proc` (field 19 of proc_pid_stat(5)).
fn niceness(tid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    let (_, tail) = stat.rsplit_once(')')?;
    tail.split_whitespace().nth(16)?.parse().ok()
}

/// Which thread runs a job, as (thread name, thread id), from inside the job.
fn whereabouts() -> (String, i32) {
    let name = std::thread::current().name().unwrap_or_default().to_owned();
    (name, rustix::thread::gettid().as_raw_nonzero().get())
}

/// Waits, up to 10 s, until at most `n` hashes are in progress; false if they never get there.
async fn settles_to(hasher: &Hasher, n: usize) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        while hasher.in_progress() > n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .is_ok()
}

/// Runs `job` twice at once and returns both answers (each within 10 s, or the test fails).
async fn run_twice<T: std::fmt::Debug + Send + 'static>(
    hasher: &Hasher,
    job: impl Fn() -> T + Clone + Send + Sync + 'static,
) -> Vec<T> {
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let (h, job) = (hasher.clone(), job.clone());
            tokio::spawn(async move { h.run("test", job).await })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        let answered = tokio::time::timeout(Duration::from_secs(10), call).await;
        let Ok(Ok(Ok(answer))) = answered else { panic!("a starved call did not answer: {answered:?}") };
        answers.push(answer);
    }
    answers
}

/// A hasher whose low-priority threads never finish a job until told (one `release` per job), both of them
/// holding one: returns once both hashes have answered from rescue threads at normal priority, no sooner
/// than `starved_after`. The job is returned for more of the same.
async fn both_threads_starved(
    starved_after: Duration,
) -> (Hasher, std::sync::mpsc::Sender<()>, impl Fn() -> (String, i32) + Clone + Send + Sync + 'static) {
    let mut hasher = Hasher::with_params(2, 8, 1, 1).unwrap_or_else(|_| unreachable!());
    hasher.starved_after = starved_after;
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(Mutex::new(held));
    let stuck = move || {
        if !std::thread::current().name().is_some_and(|n| n.starts_with("argon2-rescue")) {
            let _ = held.lock().map(|rx| rx.recv());
        }
        whereabouts()
    };
    let started = Instant::now();
    for (name, tid) in run_twice(&hasher, stuck.clone()).await {
        assert!(name.starts_with("argon2-rescue"), "ran on {name}");
        assert_eq!(niceness(tid), Some(0), "the rescue thread keeps the normal priority");
    }
    assert!(started.elapsed() >= starved_after, "not rescued before it counted as starved");
    (hasher, release, stuck)
}

/// A storm of password checks must not slow the pages and the API: the hashing threads run below them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_run_at_the_lowest_priority_while_they_keep_up() {
    let mut hasher = Hasher::with_params(2, 8, 1, 1).unwrap_or_else(|_| unreachable!());
    // Other tests may hold the cores: only a real starvation (10 s) would send these to the rescue thread.
    hasher.starved_after = Duration::from_secs(10);
    for _ in 0..6 {
        let (name, tid) = hasher.run("test", whereabouts).await.unwrap_or_default();
        assert!(name.starts_with("argon2-") && !name.starts_with("argon2-rescue"), "ran on {name}");
        assert_eq!(niceness(tid), Some(HASHING_NICENESS), "{name} is niced");
        assert!(hasher.hash(&SecretString::from("tulip-orbit-9xq")).await.is_ok());
    }
    assert_eq!(hasher.rescued(), 0, "no hash was rescued while none waited");
}

/// The abuse case of that priority: other work holding every core would starve sign-ins for as long as it
/// lasts. Here the low-priority threads never finish a job (each holds it until told): the hashes already
/// on them must still answer, run again on the rescue thread at normal priority, and so must the next ones;
/// none before it counts as starved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starved_hashes_are_rescued_and_answer() {
    let (hasher, release, _) = both_threads_starved(Duration::from_millis(100)).await;
    assert_eq!(hasher.rescued(), 2);
    // A rescue thread lets go of its permit just after it has answered.
    assert!(settles_to(&hasher, 2).await);
    assert_eq!(hasher.in_progress(), 2, "the starved threads keep their permits until they finish");
    // While a rescued hash runs, it counts too (this one is held on the rescue thread until told).
    let (free, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let h = hasher.clone();
    let third = tokio::spawn(async move {
        h.run("test", move || {
            if std::thread::current().name().is_some_and(|n| n.starts_with("argon2-rescue")) {
                let _ = gate.lock().map(|rx| rx.recv());
            }
            whereabouts()
        })
        .await
    });
    let counted = tokio::time::timeout(Duration::from_secs(10), async {
        while hasher.in_progress() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert!(counted.await.is_ok(), "a rescued hash is counted in progress");
    // A real check meanwhile waits neither for a low-priority thread nor for that busy rescue thread: there
    // are as many rescue threads as low-priority ones.
    let password = SecretString::from("tulip-orbit-9xq");
    let check = hasher.verify(None, &password);
    let checked = tokio::time::timeout(Duration::from_secs(10), check).await;
    assert!(matches!(checked, Ok(Ok(ref v)) if !v.ok), "{checked:?}");
    let _ = free.send(());
    assert!(matches!(third.await, Ok(Ok((ref name, _))) if name.starts_with("argon2-rescue")));
    assert_eq!(hasher.rescued(), 4);
    for _ in 0..2 {
        let _ = release.send(());
    }
    assert!(settles_to(&hasher, 0).await, "the released copies finish");
    let (name, _) = hasher.run("test", whereabouts).await.unwrap_or_default();
    assert!(!name.starts_with("argon2-rescue"), "back on the low-priority threads once they keep up");
    assert_eq!(hasher.rescued(), 4);
}

/// The hashing memory under starvation: while both low-priority threads are starved in the middle of a
/// hash (holding their memory), more real hashes are rescued and all answer, taking turns on the one block
/// left (a block per permit plus one at most), which stays for the next hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starved_and_rescued_hashes_share_a_bounded_memory() {
    let mut hasher = Hasher::with_params(2, 64, 1, 1).unwrap_or_else(|_| unreachable!());
    hasher.starved_after = Duration::from_millis(100);
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(Mutex::new(held));
    let (memory, count) = (hasher.memory.clone(), hasher.params.block_count());
    let stuck = move || {
        if !std::thread::current().name().is_some_and(|n| n.starts_with("argon2-rescue")) {
            let block = memory.take(count);
            let _ = held.lock().map(|rx| rx.recv());
            if let Ok(block) = block {
                memory.give_back(block);
            }
        }
    };
    run_twice(&hasher, stuck).await;
    assert_eq!(hasher.memory_blocks(), (2, 2), "the starved threads took their memory from the one set");
    let hashes: Vec<_> = (0..4)
        .map(|i| {
            let h = hasher.clone();
            tokio::spawn(async move { h.hash(&SecretString::from(format!("tulip-orbit-9xq-{i}"))).await })
        })
        .collect();
    for (i, call) in hashes.into_iter().enumerate() {
        let answered = tokio::time::timeout(Duration::from_secs(10), call).await;
        let Ok(Ok(Ok(phc))) = answered else { panic!("a rescued hash did not answer: {answered:?}") };
        let checked = hasher.verify(Some(&phc), &SecretString::from(format!("tulip-orbit-9xq-{i}"))).await;
        assert!(matches!(checked, Ok(ref v) if v.ok), "{checked:?}");
    }
    assert!(hasher.rescued() >= 6, "the hashes ran on the rescue threads: {}", hasher.rescued());
    let (_, peak) = hasher.memory_blocks();
    assert_eq!(peak, 3, "the rescues shared the one block left");
    for _ in 0..2 {
        let _ = release.send(());
    }
    assert!(settles_to(&hasher, 0).await, "the released hashes finish");
    assert_eq!(hasher.memory_blocks(), (peak, peak), "the same set stays for the next hashes");
}

/// After a storm the memory goes back: an idle low-priority thread frees the kept blocks once unused for
/// the trim interval (never while a hash holds one), and the next hash simply makes a block again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_threads_free_the_hashing_memory() {
    let mut hasher = Hasher::with_params(2, 64, 1, 1).unwrap_or_else(|_| unreachable!());
    hasher.workers =
        Workers::start(2, hasher.memory.clone(), Duration::from_millis(300)).unwrap_or_else(|_| unreachable!());
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(Mutex::new(held));
    let (memory, count) = (hasher.memory.clone(), hasher.params.block_count());
    let holding = tokio::spawn({
        let h = hasher.clone();
        async move {
            h.run("test", move || {
                let block = memory.take(count);
                let _ = held.lock().map(|rx| rx.recv());
                if let Ok(block) = block {
                    memory.give_back(block);
                }
            })
            .await
        }
    });
    for i in 0..3 {
        let phc = hasher.hash(&SecretString::from(format!("tulip-orbit-9xq-{i}"))).await;
        assert!(phc.is_ok(), "{phc:?}");
    }
    assert!(hasher.memory_blocks().0 >= 2, "made and kept: {:?}", hasher.memory_blocks());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(hasher.memory_blocks().0 >= 2, "nothing is freed while a hash holds a block");
    // Released (its rescued copy, if the holder counted as starved, finds the channel closed).
    let _ = release.send(());
    drop(release);
    assert!(matches!(holding.await, Ok(Ok(()))));
    let freed = tokio::time::timeout(Duration::from_secs(10), async {
        while hasher.memory_blocks().0 > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(freed.await.is_ok(), "the kept memory was never freed: {:?}", hasher.memory_blocks());
    let phc = hasher.hash(&SecretString::from("tulip-orbit-9xq")).await;
    assert!(phc.is_ok(), "hashing goes on afterwards: {phc:?}");
    assert_eq!(hasher.memory_blocks().0, 1, "a block made again");
}

/// A low-priority copy whose caller stopped waiting (its rescued twin answered) is dropped unrun when a
/// thread finally takes it: no memory, no cycles for an answer nobody reads. A copy still awaited runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_nobody_waits_for_is_not_run() {
    let hasher = Hasher::with_params(2, 8, 1, 1).unwrap_or_else(|_| unreachable!());
    let permits = Arc::new(tokio::sync::Semaphore::new(8));
    let permit = || permits.clone().try_acquire_owned().unwrap_or_else(|_| unreachable!());
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(Mutex::new(held));
    let stuck = Arc::new(move || {
        let _ = held.lock().map(|rx| rx.recv());
    });
    let busy: Vec<_> = (0..2).map(|_| hasher.send(&hasher.workers.tx, stuck.clone(), (permit(), None))).collect();
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = {
        let runs = runs.clone();
        Arc::new(move || runs.fetch_add(1, Ordering::SeqCst))
    };
    let unwanted = hasher.send(&hasher.workers.tx, counted.clone(), (permit(), None));
    drop(unwanted);
    let wanted = hasher.send(&hasher.workers.tx, counted, (permit(), None));
    for _ in 0..2 {
        let _ = release.send(());
    }
    for done in busy {
        let finished = tokio::time::timeout(Duration::from_secs(10), async { done.ok()?.await.ok() }).await;
        assert!(matches!(finished, Ok(Some(_))), "the held jobs finish once released");
    }
    let answered = tokio::time::timeout(Duration::from_secs(10), async { wanted.ok()?.await.ok() }).await;
    assert!(matches!(answered, Ok(Some(_))), "the awaited copy ran: {answered:?}");
    // Both threads are free again: the dropped copy, had it run, would have long been done.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the copy nobody waited for was not run");
}

/// A sign-in and then a step-up, under other work holding every core: once hashes have been rescued, a
/// starved thread that finally finishes its copy is not progress enough to judge the threads afresh (the
/// next hash would wait the whole time again); only a prompt finish, or holding no work, ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rescue_the_next_hash_does_not_wait_to_be_starved_again() {
    let (hasher, release, stuck) = both_threads_starved(Duration::from_secs(1)).await;
    // One starved thread finally finishes its copy, long after it got it; the other still holds one.
    let _ = release.send(());
    assert!(settles_to(&hasher, 1).await, "the released copy finishes");
    let started = Instant::now();
    let next = tokio::time::timeout(Duration::from_secs(10), hasher.run("test", stuck.clone())).await;
    assert!(matches!(next, Ok(Ok((ref name, _))) if name.starts_with("argon2-rescue")), "{next:?}");
    let waited = started.elapsed();
    assert!(waited < Duration::from_millis(900), "waited {waited:?} to be judged starved again");
    assert_eq!(hasher.rescued(), 3);
    for _ in 0..2 {
        let _ = release.send(());
    }
    assert!(settles_to(&hasher, 0).await, "the released copies finish");
    for _ in 0..3 {
        let (name, _) = hasher.run("test", whereabouts).await.unwrap_or_default();
        assert!(name.starts_with("argon2-") && !name.starts_with("argon2-rescue"), "ran on {name}");
    }
    assert_eq!(hasher.rescued(), 3, "no hash raced the rescue thread once the threads held no work");
}
