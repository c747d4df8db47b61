//! Passwords: the rules (NIST SP 800-63B-4 §3.1.1.2) and argon2id hashing (OWASP: m=19456 KiB, t=2, p=1).
//!
//! Rules: length counts Unicode code points after NFKC normalisation; at least `min_chars` (15 while the
//! password is the only factor), up to 1024 accepted (so 128 always is), no composition rules, no truncation;
//! refused when it is a common/breached password (zxcvbn's shipped lists and patterns) or contains the email
//! or the organisation name. Each refusal says why.
//!
//! Hashing runs on a fixed set of threads behind a semaphore with one permit per core, so a sign-in storm costs
//! only the argon2 work: memory is at most (permits + 1) × 19 MiB, shared by all the hashing threads, kept for
//! reuse and given back to the system once unused for `TRIM_AFTER` (`argon::Memory`); other requests keep their
//! threads, and the
//! queue itself is bounded (beyond it callers get `Unavailable` rather than piling up).
//!
//! Those threads run at the lowest priority (`HASHING_NICENESS`): hashing gets every idle cycle, and a page or
//! an API call that becomes runnable during a storm is served first. So that other work holding the cores can
//! never starve sign-ins, once those threads have held work without finishing any for `STARVED_AFTER` (or four
//! times the fastest hash seen), their hashes run again on rescue threads at normal priority (one per permit),
//! the first result answering, and hashes waiting meanwhile go there too
//! (`rampart_password_hash_rescued_total` counts them). Until the low-priority threads finish a hash promptly
//! again, or hold no work, every hash goes to the rescue threads at once.

use crate::backend::platform::metrics::{Decision, Limiter, Metrics};
use crate::model::AppError;
mod argon;
mod threads;

use argon::{hash_blocking, verify_blocking, Memory};
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Params};
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use threads::{Job, Lane, Progress, Running, Workers};
pub use threads::{HASHING_NICENESS, STARVED_AFTER};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use unicode_normalization::UnicodeNormalization as _;

/// The most characters a password may have; far above anyone's need, low enough to bound the work.
pub const MAX_CHARS: usize = 1024;
/// Minimum while a password is a single factor (NIST 800-63B-4 §3.1.1.2).
pub const MIN_CHARS_SINGLE_FACTOR: usize = 15;
/// Minimum when the password is one factor of required multi-factor authentication (NIST 800-63B-4 §3.1.1.2).
pub const MIN_CHARS_MULTI_FACTOR: usize = 8;

/// The minimum length for an account's new password: 8 when every tenant it belongs to requires two-factor
/// authentication, 15 otherwise.
pub async fn min_chars_for(
    conn: &mut sqlx::AnyConnection,
    account: &crate::backend::platform::ids::AccountId,
) -> Result<usize, AppError> {
    use sqlx::Row as _;
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(t.require_two_factor), 0) AS BIGINT) AS required FROM memberships m \
         JOIN tenants t ON t.id = m.tenant_id WHERE m.account_id = $1",
    )
    .bind(account.as_str())
    .fetch_one(conn)
    .await?;
    let n: i64 = row.try_get("n")?;
    let required: i64 = row.try_get("required")?;
    Ok(if n > 0 && required == n { MIN_CHARS_MULTI_FACTOR } else { MIN_CHARS_SINGLE_FACTOR })
}

/// Normalises a password as it will be hashed (NFKC), so the same characters typed on different keyboards
/// match.
pub fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Checks a new password against the rules; the error names the reason.
pub fn check_new_password(password: &str, min_chars: usize, email: &str, tenant_name: &str) -> Result<(), AppError> {
    let pw = normalize(password);
    let chars = pw.chars().count();
    if chars < min_chars {
        return Err(AppError::validation(
            "password",
            format!("Use at least {min_chars} characters (this one has {chars})."),
        ));
    }
    if chars > MAX_CHARS {
        return Err(AppError::validation("password", format!("Use at most {MAX_CHARS} characters.")));
    }
    let lower = pw.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    let tenant = tenant_name.trim().to_lowercase();
    if (!email.is_empty() && lower.contains(&email)) || (local.chars().count() >= 3 && lower.contains(local)) {
        return Err(AppError::validation("password", "Don't use your email address in your password."));
    }
    if tenant.chars().count() >= 3 && lower.contains(&tenant) {
        return Err(AppError::validation("password", "Don't use your organisation's name in your password."));
    }
    let distinct = {
        let mut cs: Vec<char> = lower.chars().collect();
        cs.sort_unstable();
        cs.dedup();
        cs.len()
    };
    if distinct < 5 {
        return Err(AppError::validation("password", "This password repeats too few different characters to be safe."));
    }
    // zxcvbn's matchers are super-linear; beyond 64 characters a blocklist hit is impossible anyway.
    if chars <= 64 {
        let est = zxcvbn::zxcvbn(&pw, &[email.as_str(), local, tenant.as_str()]);
        let whole_common = est.sequence().iter().any(|m| {
            m.i == 0
                && m.j + 1 >= chars
                && matches!(
                    &m.pattern,
                    zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
                        // zxcvbn keeps `DictionaryType` private; its Debug name is the stable way to tell.
                        if format!("{:?}", d.dictionary_name) == "Passwords"
                )
        });
        if whole_common {
            return Err(AppError::validation(
                "password",
                "This password appears in a list of common or breached passwords. Choose another.",
            ));
        }
        if est.score() < zxcvbn::Score::Three {
            let why = est
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| w.to_string())
                .unwrap_or_else(|| "It follows a pattern that is easy to guess.".to_owned());
            return Err(AppError::validation("password", format!("This password is too easy to guess: {why}")));
        }
    }
    Ok(())
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug)]
pub struct Verified {
    pub ok: bool,
    /// A fresh hash under the current parameters, when the stored one used older ones.
    pub rehash: Option<String>,
}

/// Hashes and verifies passwords off the async threads, a bounded number at a time.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    permit_count: usize,
    /// Sign-in attempts in flight (two per hashing permit): the rest wait here, in memory, holding no database
    /// connection, so a storm of attempts cannot take every connection from the pages.
    attempts: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// A hash of a random password under the current parameters, verified when the account doesn't exist so
    /// both paths cost the same. Made by the first check of either kind (on a hashing thread, so start-up
    /// allocates no argon2 memory).
    dummy: Arc<std::sync::OnceLock<String>>,
    /// The long-lived threads that run argon2: one per permit at low priority, and as many rescue threads.
    workers: Workers,
    /// Their argon2 memory: a block per permit plus one at most, kept for reuse.
    memory: Arc<Memory>,
    /// The hashes that run on the rescue threads (one each), while the others are starved.
    rescue: Arc<Semaphore>,
    /// The hashes on the low-priority threads, and when one last finished there.
    progress: Arc<Mutex<Progress>>,
    next_job: Arc<AtomicU64>,
    /// How long the low-priority threads may hold work without finishing any before they count as starved.
    starved_after: Duration,
    /// The fastest hash seen, in microseconds (what one takes on a free core).
    fastest: Arc<AtomicU64>,
    rescued: Arc<AtomicU64>,
    /// Password checks in flight per claimant (`claim`): one account, one tenant.
    claims: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    metrics: Metrics,
}

/// A place in the password-check queue held for one account and its tenant; released on drop.
#[derive(Debug)]
pub struct Claim {
    claims: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    keys: Vec<String>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut m) = self.claims.lock() {
            for k in &self.keys {
                if let Some(n) = m.get_mut(k) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        m.remove(k);
                    }
                }
            }
        }
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl Hasher {
    /// OWASP's argon2id parameters, `permits` concurrent hashes (use the core count).
    pub fn new(permits: usize) -> Result<Self, AppError> {
        Self::with_params(permits, 19 * 1024, 2, 1)
    }

    /// Custom parameters (tests of re-hashing use cheaper ones).
    pub fn with_params(permits: usize, m_kib: u32, t: u32, p: u32) -> Result<Self, AppError> {
        let params = Params::new(m_kib, t, p, None).map_err(internal)?;
        let permits = permits.max(1);
        let memory = Arc::new(Memory::new(permits));
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            permit_count: permits,
            attempts: Arc::new(Semaphore::new(permits * 2)),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting: permits * 256,
            dummy: Arc::default(),
            workers: Workers::start(permits, memory.clone(), threads::TRIM_AFTER)?,
            memory,
            rescue: Arc::new(Semaphore::new(permits)),
            progress: Arc::default(),
            next_job: Arc::default(),
            starved_after: STARVED_AFTER,
            fastest: Arc::new(AtomicU64::new(u64::MAX)),
            rescued: Arc::default(),
            claims: Arc::default(),
            metrics: Metrics::disabled(),
        })
    }

    /// The same hasher, recording its queue refusals and argon2 timings in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Hashes run by the rescue threads since start.
    pub fn rescued(&self) -> u64 {
        self.rescued.load(Ordering::SeqCst)
    }

    /// Password checks waiting for a sign-in slot or an argon2 worker.
    pub fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// (argon2 memory blocks allocated now, the most ever allocated at once).
    pub fn memory_blocks(&self) -> (usize, usize) {
        self.memory.allocated()
    }

    /// argon2 computations running now, on the low-priority threads and the rescue threads.
    pub fn in_progress(&self) -> usize {
        let low = self.permit_count.saturating_sub(self.permits.available_permits());
        low + self.permit_count.saturating_sub(self.rescue.available_permits())
    }

    /// Most password checks one tenant's signed-in members may have waiting at once: a quarter of the queue,
    /// so that one tenant (or one stolen session) cannot take the hashing queue from every other tenant's
    /// sign-ins.
    pub fn tenant_share(&self) -> usize {
        (self.max_waiting / 4).max(1)
    }

    /// Claims a password check of a signed-in account (step-up, password change): at most one in flight per
    /// account and `tenant_share` per tenant; `RateLimited` otherwise, at once, without waiting.
    pub fn claim(&self, account: &str, tenant: &str) -> Result<Claim, AppError> {
        let busy = AppError::RateLimited { retry_after: 1 };
        let mut m = self.claims.lock().map_err(|_| busy.clone())?;
        let (a, t) = (format!("account:{account}"), format!("tenant:{tenant}"));
        if m.get(&a).copied().unwrap_or(0) >= 1 || m.get(&t).copied().unwrap_or(0) >= self.tenant_share() {
            self.metrics.throttle(Limiter::PasswordCheckClaim, Decision::Throttled);
            return Err(busy);
        }
        self.metrics.throttle(Limiter::PasswordCheckClaim, Decision::Allowed);
        *m.entry(a.clone()).or_insert(0) += 1;
        *m.entry(t.clone()).or_insert(0) += 1;
        Ok(Claim { claims: self.claims.clone(), keys: vec![a, t] })
    }

    /// A place among the sign-in attempts in flight, held for a whole attempt (throttle check, password check,
    /// records); `Unavailable` when too many already wait.
    pub async fn attempt(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.metrics.password_hash_rejected();
            return Err(AppError::Unavailable);
        }
        let permit = self.attempts.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(internal)
    }

    /// Hashes a (new) password.
    pub async fn hash(&self, password: &SecretString) -> Result<String, AppError> {
        let params = self.params.clone();
        let pw = normalize(password.expose_secret());
        let memory = self.memory.clone();
        self.run("hash", move || hash_blocking(&memory, &params, &pw)).await?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no stored hash, and
    /// re-hashes it when the stored parameters differ from the current ones.
    pub async fn verify(&self, stored: Option<&str>, password: &SecretString) -> Result<Verified, AppError> {
        let params = self.params.clone();
        let stored: Option<String> = stored.map(str::to_owned);
        let dummy = self.dummy.clone();
        let pw = normalize(password.expose_secret());
        let memory = self.memory.clone();
        self.run("verify", move || {
            let dummy = match dummy.get() {
                Some(d) => d,
                None => {
                    let made = hash_blocking(&memory, &params, &crate::backend::platform::crypto::random_token())?;
                    dummy.get_or_init(|| made)
                }
            };
            let exists = stored.is_some();
            let stored = stored.as_deref().unwrap_or(dummy);
            let parsed = PasswordHash::new(stored).map_err(internal)?;
            let ok = verify_blocking(&memory, &parsed, pw.as_bytes()) && exists;
            let current = Params::try_from(&parsed).ok();
            let outdated = parsed.algorithm != Algorithm::Argon2id.ident()
                || current.is_none_or(|c| {
                    c.m_cost() != params.m_cost() || c.t_cost() != params.t_cost() || c.p_cost() != params.p_cost()
                });
            let rehash = if ok && outdated { Some(hash_blocking(&memory, &params, &pw)?) } else { None };
            Ok(Verified { ok, rehash })
        })
        .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl Fn() -> T + Send + Sync + 'static,
    ) -> Result<T, AppError> {
        let queued = Instant::now();
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.metrics.password_hash_rejected();
            return Err(AppError::Unavailable);
        }
        // A free low-priority thread first; a rescue thread once those are starved.
        let lane = tokio::select! {
            biased;
            p = self.permits.clone().acquire_owned() => p.map(Lane::Low),
            p = self.rescue_when_starved() => p.map(Lane::Rescue),
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let lane = lane.map_err(internal)?;
        let waited = queued.elapsed();
        let f = Arc::new(f);
        let (out, worked) = match lane {
            Lane::Low(permit) => {
                let n = self.next_job.fetch_add(1, Ordering::SeqCst);
                let hold = (permit, Some(Running::start(&self.progress, n, self.starved_after())));
                let mut low = self.send(&self.workers.tx, f.clone(), hold)?;
                tokio::select! {
                    done = &mut low => done.map_err(internal)?,
                    _ = self.starved() => {
                        // Starved: the same work once more on a rescue thread; whichever finishes first answers.
                        let rescue = tokio::select! {
                            done = &mut low => Err(done),
                            p = self.rescue.clone().acquire_owned() => Ok(p.map_err(internal)?),
                        };
                        match rescue {
                            Err(done) => done.map_err(internal)?,
                            Ok(permit) => {
                                self.note_rescue();
                                let rescued = self.send(&self.workers.rescue_tx, f, (permit, None))?;
                                tokio::select! {
                                    done = low => done.map_err(internal)?,
                                    done = rescued => done.map_err(internal)?,
                                }
                            }
                        }
                    }
                }
            }
            Lane::Rescue(permit) => {
                self.note_rescue();
                self.send(&self.workers.rescue_tx, f, (permit, None))?.await.map_err(internal)?
            }
        };
        self.fastest.fetch_min(u64::try_from(worked.as_micros()).unwrap_or(u64::MAX), Ordering::SeqCst);
        self.metrics.password_hash(op, waited, worked);
        Ok(out)
    }

    /// Queues `f` on one lane's threads, holding `hold` (the permit, and the place among the running hashes)
    /// until the thread has finished it, even when the caller stops waiting; the receiver gets the result and
    /// the time the work took.
    fn send<T: Send + 'static>(
        &self,
        queue: &std::sync::mpsc::Sender<Job>,
        f: Arc<impl Fn() -> T + Send + Sync + 'static>,
        hold: (OwnedSemaphorePermit, Option<Running>),
    ) -> Result<tokio::sync::oneshot::Receiver<(T, Duration)>, AppError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A low-priority copy whose rescued twin already answered (its caller stopped waiting) is not run:
            // it would spend a block of memory and the spare cycles for nothing.
            if done.is_closed() {
                drop(hold);
                return;
            }
            let started = Instant::now();
            let out = f();
            let worked = started.elapsed();
            // Its place is given back before the caller hears: whoever the answer reaches finds the hash over
            // (the next one queued, the in-progress gauge of a scrape right after the answer).
            drop(hold);
            let _ = done.send((out, worked));
        });
        queue.send(job).map_err(internal)?;
        Ok(result)
    }

    fn note_rescue(&self) {
        self.mark_starving();
        self.rescued.fetch_add(1, Ordering::SeqCst);
        self.metrics.password_hash_rescued();
    }
}

#[track_caller]
fn internal(err: impl std::fmt::Display) -> AppError {
    crate::backend::platform::failure::internal("password hashing", err)
}

#[cfg(test)]
mod tests;
