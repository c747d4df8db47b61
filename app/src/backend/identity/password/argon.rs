//! argon2id in the hashing threads' shared, reused memory, producing and checking standard PHC strings.

use crate::model::AppError;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Condvar, Mutex};

fn argon(algorithm: Algorithm, version: Version, params: &Params) -> Argon2<'static> {
    Argon2::new(algorithm, version, params.clone())
}

/// The argon2 memory of one hasher's threads (19 MiB a hash with OWASP's parameters), shared by its
/// low-priority and rescue threads: at most `limit` blocks (one per permit plus one), each allocated when first
/// needed and then kept and reused by every later hash; a hash waits for a block to come back when all are in
/// use. Once none has been used for a while (`trim`), the kept blocks are freed, so a storm's memory goes back
/// to the system after it (see `threads::release_freed_memory` for how it gets there).
///
/// The low-priority threads (one per permit) can hold at most `permits` blocks, so while they are starved in
/// the middle of their hashes one block is always left for the rescue threads, which take turns on it at
/// normal priority. A block per thread (two per permit) let a storm with rescues peak at 156–161 MB.
///
/// A block is made outside the lock: made under it, by a starved low-priority thread, every other hash waited
/// on that thread (the kill -9 test, under the full suite's load, acknowledged no key in 20 rounds).
pub(super) struct Memory {
    state: Mutex<Blocks>,
    returned: Condvar,
    limit: usize,
}

#[derive(Default)]
struct Blocks {
    idle: Vec<Vec<Block>>,
    lent: usize,
    /// When a block last came back.
    last_used: Option<std::time::Instant>,
    /// The most blocks that ever existed at once.
    peak: usize,
}

impl Memory {
    pub(super) fn new(permits: usize) -> Self {
        Self { state: Mutex::default(), returned: Condvar::new(), limit: permits + 1 }
    }

    /// A block of `count` argon2 blocks: an idle one of that size; else, while fewer than `limit` exist, a new
    /// one (a block of other parameters, after a change of them, is freed to make room); else the next one
    /// given back.
    pub(super) fn take(&self, count: usize) -> Result<Vec<Block>, AppError> {
        let mut s = self.state.lock().map_err(internal)?;
        loop {
            if let Some(i) = s.idle.iter().position(|b| b.len() == count) {
                s.lent += 1;
                return Ok(s.idle.swap_remove(i));
            }
            if s.lent + s.idle.len() >= self.limit && !s.idle.is_empty() {
                if let Some(mut old) = s.idle.pop() {
                    wipe(&mut old);
                }
            }
            if s.lent + s.idle.len() < self.limit {
                s.lent += 1;
                s.peak = s.peak.max(s.lent + s.idle.len());
                // Made outside the lock: writing 19 MiB takes milliseconds, and other hashes need the set.
                drop(s);
                return Ok(vec![Block::default(); count]);
            }
            s = self.returned.wait(s).map_err(internal)?;
        }
    }

    /// Gives a block back for the next hash.
    pub(super) fn give_back(&self, block: Vec<Block>) {
        if let Ok(mut s) = self.state.lock() {
            s.lent = s.lent.saturating_sub(1);
            s.last_used = Some(std::time::Instant::now());
            s.idle.push(block);
        }
        self.returned.notify_one();
    }

    /// Frees the kept blocks once none has been in use for `idle` (after a storm, or after the one sign-in of a
    /// quiet hour); returns how many were freed. Nothing is freed while a hash runs.
    pub(super) fn trim(&self, idle: std::time::Duration) -> usize {
        let mut freed = match self.state.lock() {
            Ok(mut s) if s.lent == 0 && s.last_used.is_some_and(|at| at.elapsed() >= idle) => {
                std::mem::take(&mut s.idle)
            }
            _ => Vec::new(),
        };
        freed.iter_mut().for_each(|block| wipe(block));
        freed.len()
    }

    /// How long until `trim(idle)` would free the kept blocks: `None` while none are kept or one is in use.
    pub(super) fn trim_due_in(&self, idle: std::time::Duration) -> Option<std::time::Duration> {
        let s = self.state.lock().ok()?;
        if s.lent > 0 || s.idle.is_empty() {
            return None;
        }
        s.last_used.map(|at| idle.saturating_sub(at.elapsed()))
    }

    /// (blocks that exist now, the most that ever existed at once).
    pub(super) fn allocated(&self) -> (usize, usize) {
        self.state.lock().map(|s| (s.lent + s.idle.len(), s.peak)).unwrap_or_default()
    }
}

/// Zeroes a block before it is freed: a hash leaves in it state derived from a password, which should not go
/// back to the allocator. (A kept block is not wiped between hashes: the next hash overwrites it, and wiping
/// 19 MiB would add a tenth to every hash.)
fn wipe(block: &mut [Block]) {
    use zeroize::Zeroize as _;
    block.iter_mut().for_each(Block::zeroize);
}

/// A block taken from `Memory`, given back when dropped (after the hash, or on a panic in it).
struct Lent<'a> {
    memory: &'a Memory,
    block: Vec<Block>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        self.memory.give_back(std::mem::take(&mut self.block));
    }
}

/// argon2 of `pw` with `salt` (its base64 form) under the given algorithm, version and parameters, in a block
/// of the hasher's shared memory.
fn compute(
    memory: &Memory,
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    pw: &[u8],
    salt: argon2::password_hash::Salt<'_>,
) -> Result<argon2::password_hash::Output, AppError> {
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(internal)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut lent = Lent { memory, block: memory.take(params.block_count())? };
    argon2::password_hash::Output::init_with(len, |out| {
        argon(algorithm, version, params)
            .hash_password_into_with_memory(pw, salt, out, lent.block.as_mut_slice())
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(internal)
}

/// A PHC string (`$argon2id$v=19$m=…`) of `pw` under `params` with a fresh salt.
pub(super) fn hash_blocking(memory: &Memory, params: &Params, pw: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
    let hash = compute(memory, algorithm, version, params, pw.as_bytes(), salt.as_salt())?;
    let phc = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: argon2::password_hash::ParamsString::try_from(params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(hash),
    };
    Ok(phc.to_string())
}

/// Whether `pw` matches the stored hash, under the stored algorithm, version and parameters; the outputs are
/// compared in constant time (`Output`'s equality).
pub(super) fn verify_blocking(memory: &Memory, stored: &PasswordHash<'_>, pw: &[u8]) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else { return false };
    let Ok(version) = stored.version.map(Version::try_from).transpose() else { return false };
    let Ok(params) = Params::try_from(stored) else { return false };
    compute(memory, algorithm, version.unwrap_or_default(), &params, pw, salt)
        .is_ok_and(|computed| computed == expected)
}

#[track_caller]
fn internal(err: impl std::fmt::Display) -> AppError {
    crate::backend::platform::failure::internal("password hashing", err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hashes made in reused memory are standard PHC strings: the argon2 crate's own verifier accepts them,
    /// ours accepts the crate's, a wrong password fails both ways, and a hash under other parameters (a
    /// different memory size on the same thread) still verifies.
    #[test]
    fn reused_memory_hashes_agree_with_the_argon2_crate() -> Result<(), AppError> {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let params = Params::new(1024, 1, 1, None).map_err(internal)?;
        let memory = Memory::new(1);
        let ours = hash_blocking(&memory, &params, "correct horse battery staple")?;
        let parsed = PasswordHash::new(&ours).map_err(internal)?;
        let crate_argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        assert!(crate_argon.verify_password(b"correct horse battery staple", &parsed).is_ok());
        assert!(crate_argon.verify_password(b"correct horse battery stable", &parsed).is_err());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(2048, 2, 1, None).map_err(internal)?)
            .hash_password(b"another passphrase", &salt)
            .map_err(internal)?
            .to_string();
        let theirs = PasswordHash::new(&theirs).map_err(internal)?;
        assert!(verify_blocking(&memory, &theirs, b"another passphrase"));
        assert!(!verify_blocking(&memory, &theirs, b"another passphrasE"));
        assert!(verify_blocking(&memory, &parsed, b"correct horse battery staple"), "back to the smaller memory");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params).hash_password(b"old", &salt);
        let argon2i = argon2i.map_err(internal)?.to_string();
        assert!(
            verify_blocking(&memory, &PasswordHash::new(&argon2i).map_err(internal)?, b"old"),
            "older algorithms verify"
        );
        Ok(())
    }

    /// A freed block is wiped: nothing a hash left in it goes back to the allocator.
    #[test]
    fn a_freed_block_is_wiped_first() -> Result<(), AppError> {
        let params = Params::new(64, 1, 1, None).map_err(internal)?;
        let mut block = vec![Block::default(); params.block_count()];
        let salt = b"sixteen byte salt";
        let mut out = [0u8; 32];
        argon(Algorithm::Argon2id, Version::V0x13, &params)
            .hash_password_into_with_memory(b"tulip-orbit-9xq", salt, &mut out, block.as_mut_slice())
            .map_err(internal)?;
        let zero = Block::default();
        assert!(block.iter().any(|b| b.as_ref() != zero.as_ref()), "the hash left its state");
        wipe(&mut block);
        assert!(block.iter().all(|b| b.as_ref() == zero.as_ref()));
        Ok(())
    }

    /// The bound behind the hashing memory: a block per permit plus one at most (two for one permit), each made
    /// when first needed, a taker beyond the limit waiting for one to come back, every block kept for reuse,
    /// and a block of other parameters freed to make room rather than exceeding the limit.
    #[test]
    fn memory_is_bounded_and_kept() -> Result<(), AppError> {
        let memory = std::sync::Arc::new(Memory::new(1));
        let a = memory.take(8)?;
        assert_eq!(memory.allocated(), (1, 1), "made when needed");
        memory.give_back(a);
        let a = memory.take(8)?;
        assert_eq!(memory.allocated(), (1, 1), "reused");
        let b = memory.take(8)?;
        assert_eq!(memory.allocated(), (2, 2));
        let (taken, third) = std::sync::mpsc::channel();
        let m = memory.clone();
        let waiter = std::thread::spawn(move || {
            let c = m.take(8);
            let _ = taken.send(());
            c
        });
        let waited = third.recv_timeout(std::time::Duration::from_millis(300));
        assert!(waited.is_err(), "a third block while two exist");
        memory.give_back(a);
        assert!(third.recv_timeout(std::time::Duration::from_secs(10)).is_ok(), "the returned block is reused");
        let c = waiter.join().map_err(|_| internal("the waiting thread panicked"))??;
        assert_eq!(c.len(), 8);
        for block in [b, c] {
            memory.give_back(block);
        }
        assert_eq!(memory.allocated(), (2, 2), "all kept, never more than two at once");
        let bigger: Vec<_> = (0..2).map(|_| memory.take(16)).collect::<Result<_, _>>()?;
        assert!(bigger.iter().all(|b| b.len() == 16));
        assert_eq!(memory.allocated(), (2, 2), "the blocks of the old size made room");
        for block in bigger {
            memory.give_back(block);
        }
        assert_eq!(memory.trim(std::time::Duration::from_secs(60)), 0, "just used: kept");
        let due = memory.trim_due_in(std::time::Duration::from_secs(60));
        assert!(due.is_some_and(|d| d > std::time::Duration::from_secs(59)), "{due:?}");
        assert_eq!(memory.allocated().0, 2);
        let busy = memory.take(16)?;
        assert_eq!(memory.trim(std::time::Duration::ZERO), 0, "nothing is freed while a hash runs");
        assert_eq!(memory.trim_due_in(std::time::Duration::ZERO), None);
        memory.give_back(busy);
        assert_eq!(memory.trim(std::time::Duration::ZERO), 2, "unused long enough: freed");
        assert_eq!(memory.allocated().0, 0);
        assert_eq!(memory.trim_due_in(std::time::Duration::ZERO), None, "nothing left to free");
        assert_eq!(memory.take(16)?.len(), 16, "and made again when needed");
        Ok(())
    }
}
