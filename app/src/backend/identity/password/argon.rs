//! argon2id in each hashing thread's reused memory, producing and checking standard PHC strings.

use crate::model::AppError;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon(algorithm: Algorithm, version: Version, params: &Params) -> Argon2<'static> {
    Argon2::new(algorithm, version, params.clone())
}

thread_local! {
    /// This hashing thread's argon2 memory (19 MiB with OWASP's parameters), allocated by its first hash and
    /// reused by every later one: a storm of sign-ins costs the same memory as one sign-in per thread, and the
    /// allocator never sees a 19 MiB block come and go.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// argon2 of `pw` with `salt` (its base64 form) under the given algorithm, version and parameters, in this
/// thread's reused memory.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    pw: &[u8],
    salt: argon2::password_hash::Salt<'_>,
) -> Result<argon2::password_hash::Output, AppError> {
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(internal)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() != params.block_count() {
            *blocks = vec![argon2::Block::default(); params.block_count()];
        }
        argon2::password_hash::Output::init_with(len, |out| {
            argon(algorithm, version, params)
                .hash_password_into_with_memory(pw, salt, out, blocks.as_mut_slice())
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .map_err(internal)
    })
}

/// A PHC string (`$argon2id$v=19$m=…`) of `pw` under `params` with a fresh salt.
pub(super) fn hash_blocking(params: &Params, pw: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
    let hash = compute(algorithm, version, params, pw.as_bytes(), salt.as_salt())?;
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
pub(super) fn verify_blocking(stored: &PasswordHash<'_>, pw: &[u8]) -> bool {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm) else { return false };
    let Ok(version) = stored.version.map(Version::try_from).transpose() else { return false };
    let Ok(params) = Params::try_from(stored) else { return false };
    compute(algorithm, version.unwrap_or_default(), &params, pw, salt).is_ok_and(|computed| computed == expected)
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
        let ours = hash_blocking(&params, "correct horse battery staple")?;
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
        assert!(verify_blocking(&theirs, b"another passphrase"));
        assert!(!verify_blocking(&theirs, b"another passphrasE"));
        assert!(verify_blocking(&parsed, b"correct horse battery staple"), "back to the smaller memory");
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, params).hash_password(b"old", &salt);
        let argon2i = argon2i.map_err(internal)?.to_string();
        assert!(verify_blocking(&PasswordHash::new(&argon2i).map_err(internal)?, b"old"), "older algorithms verify");
        Ok(())
    }
}
