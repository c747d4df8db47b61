//! The threads that run argon2: one per permit at the lowest priority, and as many rescue threads at normal
//! priority for when those are starved (`Hasher::run` picks the lane).

use super::internal;
use crate::model::AppError;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads for argon2. Each hash needs 19 MiB; on tokio's elastic blocking pool every new
/// thread would keep its own allocator arena with that block cached, so a sign-in storm grew the process by
/// tens of MiB per thread. The threads take their memory from one shared, bounded set (`argon::Memory`).
#[derive(Clone)]
pub(super) struct Workers {
    /// The low-priority threads' queue.
    pub(super) tx: std::sync::mpsc::Sender<Job>,
    /// The rescue threads' queue (normal priority, as many as the low-priority ones).
    pub(super) rescue_tx: std::sync::mpsc::Sender<Job>,
}

impl Workers {
    pub(super) fn start(n: usize) -> Result<Self, AppError> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            spawn_worker(format!("argon2-{i}"), rx.clone(), true)?;
        }
        let (rescue_tx, rescue_rx) = std::sync::mpsc::channel::<Job>();
        let rescue_rx = Arc::new(Mutex::new(rescue_rx));
        for i in 0..n {
            spawn_worker(format!("argon2-rescue-{i}"), rescue_rx.clone(), false)?;
        }
        Ok(Self { tx, rescue_tx })
    }
}

fn spawn_worker(name: String, rx: Arc<Mutex<std::sync::mpsc::Receiver<Job>>>, low: bool) -> Result<(), AppError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            if low {
                if let Err(e) = lower_priority() {
                    tracing::warn!(error = %e, "an argon2 thread could not lower its scheduling priority");
                }
            }
            loop {
                // The lock is held only while taking a job, not while running it.
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        })
        .map(|_| ())
        .map_err(internal)
}

/// The niceness of the argon2 threads (the rescue threads' excepted): the lowest there is.
pub const HASHING_NICENESS: i32 = 19;

/// The low-priority threads are starved when they have held work without finishing any for this long (or four
/// times the fastest hash seen, when that is more). Under a storm with a page load beside it they still finish
/// hashes every few tens of milliseconds on the spare cycles; when other work holds every core, they finish none.
/// (At 200 ms, a sign-in and then a step-up on a freshly started server under a full load rarely both finished
/// within 400 ms: `crash::kill_9_under_eight_writers…` acknowledged no key in one run of four.)
pub const STARVED_AFTER: Duration = Duration::from_millis(100);

/// Lowers the calling thread's scheduling priority to `HASHING_NICENESS` (Linux: per thread, by its id).
fn lower_priority() -> std::io::Result<()> {
    let tid = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(tid), HASHING_NICENESS).map_err(std::io::Error::from)
}

/// Where a hash runs, with the permit that holds its place there.
pub(super) enum Lane {
    Low(OwnedSemaphorePermit),
    Rescue(OwnedSemaphorePermit),
}

/// The low-priority threads' progress: the hashes on them (by job number, with when each was handed over),
/// when one last finished there, and whether they are still starved since a hash was last rescued.
#[derive(Default)]
pub(super) struct Progress {
    running: BTreeMap<u64, Instant>,
    last_done: Option<Instant>,
    /// Set when a hash is rescued while they hold work, cleared once they hold none or finish a hash promptly
    /// (within the time that judges them starved): meanwhile every hash goes
    /// to the rescue threads at once (its low-priority copy, if it got a thread, races it), instead of each
    /// waiting to be judged starved afresh. A sign-in and then a step-up under a full load took two waits.
    starving: bool,
}

impl Progress {
    /// Since when the low-priority threads have finished nothing while holding work: `None` when they hold none.
    pub(super) fn stalled_since(&self) -> Option<Instant> {
        let oldest = self.running.first_key_value().map(|(_, at)| *at)?;
        Some(self.last_done.map_or(oldest, |done| done.max(oldest)))
    }
}

/// A hash on the low-priority threads, in `Progress` until dropped (when its thread has finished it).
pub(super) struct Running {
    progress: Arc<Mutex<Progress>>,
    n: u64,
    /// Finished sooner than this after it was handed over, it shows the threads are no longer starved.
    prompt: Duration,
}

impl Running {
    pub(super) fn start(progress: &Arc<Mutex<Progress>>, n: u64, prompt: Duration) -> Self {
        if let Ok(mut p) = progress.lock() {
            p.running.insert(n, Instant::now());
        }
        Self { progress: progress.clone(), n, prompt }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut p) = self.progress.lock() {
            let handed_over = p.running.remove(&self.n);
            p.last_done = Some(Instant::now());
            if p.running.is_empty() || handed_over.is_some_and(|at| at.elapsed() < self.prompt) {
                p.starving = false;
            }
        }
    }
}

/// When the low-priority threads count as starved, and a rescue thread's permit once they are.
impl super::Hasher {
    /// How long the low-priority threads may hold work without finishing any: four times the fastest hash
    /// seen (what one takes on a free core), and never under `starved_after`.
    pub(super) fn starved_after(&self) -> Duration {
        match self.fastest.load(Ordering::SeqCst) {
            u64::MAX => self.starved_after,
            fastest => self.starved_after.max(Duration::from_micros(fastest).saturating_mul(4)),
        }
    }

    /// A hash was rescued: the low-priority threads count as starved until they hold no work or finish one
    /// promptly.
    pub(super) fn mark_starving(&self) {
        if let Ok(mut p) = self.progress.lock() {
            p.starving = !p.running.is_empty();
        }
    }

    /// Resolves once the low-priority threads have held work without finishing any for `starved_after`, or at
    /// once while they are still starved since the last rescue.
    pub(super) async fn starved(&self) {
        loop {
            let Ok((starving, since)) = self.progress.lock().map(|p| (p.starving, p.stalled_since())) else {
                return;
            };
            if starving {
                return;
            }
            let starved_after = self.starved_after();
            match since.map(|at| starved_after.saturating_sub(at.elapsed())) {
                Some(left) if left.is_zero() => return,
                Some(left) => tokio::time::sleep(left).await,
                None => tokio::time::sleep(starved_after).await,
            }
        }
    }

    /// A rescue thread's permit, once the low-priority threads are starved.
    pub(super) async fn rescue_when_starved(&self) -> Result<OwnedSemaphorePermit, tokio::sync::AcquireError> {
        self.starved().await;
        self.rescue.clone().acquire_owned().await
    }
}

#[cfg(test)]
mod tests {
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
    /// hash (holding their memory), more real hashes are rescued and all answer, from the same bounded set (a
    /// block per thread at most), which stays for the next hashes.
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
        assert!((3..=4).contains(&peak), "the rescues took at most a block per thread: {peak}");
        for _ in 0..2 {
            let _ = release.send(());
        }
        assert!(settles_to(&hasher, 0).await, "the released hashes finish");
        assert_eq!(hasher.memory_blocks(), (peak, peak), "the same set stays for the next hashes");
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
}
