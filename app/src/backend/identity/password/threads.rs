//! The threads that run argon2: one per permit at the lowest priority, and as many rescue threads at normal
//! priority for when those are starved (`Hasher::run` picks the lane). An idle low-priority thread frees the
//! hashing memory once it has been unused for `TRIM_AFTER`.

use super::argon::Memory;
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
    /// `n` threads per lane; an idle low-priority thread frees `memory`'s kept blocks after `trim_after` unused.
    pub(super) fn start(n: usize, memory: Arc<Memory>, trim_after: Duration) -> Result<Self, AppError> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            spawn_worker(format!("argon2-{i}"), rx.clone(), Some(Trim { memory: memory.clone(), after: trim_after }))?;
        }
        let (rescue_tx, rescue_rx) = std::sync::mpsc::channel::<Job>();
        let rescue_rx = Arc::new(Mutex::new(rescue_rx));
        for i in 0..n {
            spawn_worker(format!("argon2-rescue-{i}"), rescue_rx.clone(), None)?;
        }
        Ok(Self { tx, rescue_tx })
    }
}

/// What a low-priority thread frees when idle: `memory`'s kept blocks, once unused for `after`.
struct Trim {
    memory: Arc<Memory>,
    after: Duration,
}

/// A thread of one lane: a low-priority one (lowered, and trimming the memory when idle), or a rescue one.
fn spawn_worker(
    name: String,
    rx: Arc<Mutex<std::sync::mpsc::Receiver<Job>>>,
    trim: Option<Trim>,
) -> Result<(), AppError> {
    use std::sync::mpsc::RecvTimeoutError;
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            if trim.is_some() {
                if let Err(e) = lower_priority() {
                    tracing::warn!(error = %e, "an argon2 thread could not lower its scheduling priority");
                }
            }
            loop {
                // Woken when the kept memory is due to be freed (the other thread may have run the last hash).
                let wait = trim
                    .as_ref()
                    .map_or(Duration::from_secs(3600), |t| t.memory.trim_due_in(t.after).unwrap_or(t.after));
                // The lock is held only while waiting for a job, not while running it.
                let job = match rx.lock() {
                    Ok(guard) => guard.recv_timeout(wait),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(RecvTimeoutError::Timeout) => {
                        if trim.as_ref().is_some_and(|t| t.memory.trim(t.after) > 0) {
                            // A hashing thread of its own, not an async worker: meanwhile the other low-priority
                            // threads (and the rescue ones) take the jobs.
                            #[allow(clippy::disallowed_methods)]
                            std::thread::sleep(ALLOCATOR_PURGE_DELAY);
                            release_freed_memory();
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .map(|_| ())
        .map_err(internal)
}

/// How long after a free the server's allocator (mimalloc v3: `purge_delay`, 1 s) may give the memory back to
/// the system, with a margin.
const ALLOCATOR_PURGE_DELAY: Duration = Duration::from_millis(1500);

/// Has the allocator return the freed hashing memory to the system. mimalloc does that only from a later free
/// of a whole page once its purge delay has passed, and an idle process frees none: the blocks freed after a
/// storm stayed resident (measured: RSS unchanged a minute later). Freeing a page of our own, past the delay,
/// lets it purge them; the page is never written, so it costs no memory. Any other allocator simply frees it.
fn release_freed_memory() {
    drop(std::hint::black_box(Vec::<u8>::with_capacity(1 << 20)));
}

/// The niceness of the argon2 threads (the rescue threads' excepted): the lowest there is.
pub const HASHING_NICENESS: i32 = 19;

/// The low-priority threads are starved when they have held work without finishing any for this long (or four
/// times the fastest hash seen, when that is more). Under a storm with a page load beside it they still finish
/// hashes every few tens of milliseconds on the spare cycles; when other work holds every core, they finish none.
/// (At 200 ms, a sign-in and then a step-up on a freshly started server under a full load rarely both finished
/// within 400 ms: `crash::kill_9_under_eight_writers…` acknowledged no key in one run of four.)
pub const STARVED_AFTER: Duration = Duration::from_millis(100);

/// How long the hashing memory stays allocated unused (a storm's, or a quiet day's one sign-in's).
pub const TRIM_AFTER: Duration = Duration::from_secs(20);

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
mod tests;
