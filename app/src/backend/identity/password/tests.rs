use super::*;

fn reason(pw: &str) -> String {
    match check_new_password(pw, 15, "alice@example.com", "Acme Corp") {
        Ok(()) => "ok".to_owned(),
        Err(AppError::Validation { msg, .. }) => msg,
        Err(e) => format!("{e:?}"),
    }
}

/// Finding 5 of the attack review: one account has one password check in flight, and one tenant at most
/// its share of the queue, whatever the number of sessions or requests.
#[test]
fn claims_limit_one_account_and_one_tenants_share() {
    let hasher = Hasher::with_params(1, 8, 1, 1).unwrap_or_else(|_| unreachable!());
    let first = hasher.claim("a1", "t1");
    assert!(first.is_ok());
    assert!(matches!(hasher.claim("a1", "t1"), Err(AppError::RateLimited { .. })), "a second check in flight");
    drop(first);
    assert!(hasher.claim("a1", "t1").is_ok(), "released on drop");
    let held: Vec<_> = (0..hasher.tenant_share()).map(|i| hasher.claim(&format!("m{i}"), "t2")).collect();
    assert!(held.iter().all(Result::is_ok));
    assert!(hasher.claim("late", "t2").is_err(), "the tenant's share is full");
    assert!(hasher.claim("other", "t3").is_ok(), "another tenant still gets in");
}

#[test]
fn length_rules_count_characters() {
    assert!(reason("tulip-orbit-9x").contains("at least 15"));
    assert_eq!(reason("tulip-orbit-9xq"), "ok");
    let long: String = "correct horse battery staple ".repeat(5).chars().take(128).collect();
    assert_eq!(reason(&long), "ok");
    // Non-ASCII passwords are counted in characters, not bytes.
    assert!(reason("ñandú-río-éxito").starts_with("ok"));
    assert!(reason(&"x1y2z3".repeat(200)).contains("at most"));
}

#[test]
fn common_and_personal_passwords_are_refused_with_a_reason() {
    assert!(reason("qwertasdfgzxcvb").contains("common"), "{}", reason("qwertasdfgzxcvb"));
    assert!(reason("aaaaaaaaaaaaaaaaaaaa").contains("too few"));
    assert!(reason("alice-loves-sunny-days").contains("email"));
    assert!(reason("my acme corp login 2026").contains("organisation"));
}

/// A hash that has answered is no longer counted as running, nor holding its thread's place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_hash_is_no_longer_in_progress() -> Result<(), AppError> {
    let hasher = Hasher::with_params(1, 1024, 1, 1)?;
    let pw = SecretString::from("a perfectly fine passphrase".to_owned());
    for _ in 0..200 {
        hasher.hash(&pw).await?;
        assert_eq!(hasher.in_progress(), 0);
    }
    Ok(())
}

#[tokio::test]
async fn verify_accepts_the_right_password_and_rehashes_old_params() -> Result<(), AppError> {
    let old = Hasher::with_params(1, 1024, 1, 1)?;
    let pw = SecretString::from("a perfectly fine passphrase".to_owned());
    let stored = old.hash(&pw).await?;
    let current = Hasher::with_params(1, 2048, 2, 1)?;
    let v = current.verify(Some(&stored), &pw).await?;
    assert!(v.ok);
    let rehash = v.rehash.ok_or(AppError::NotFound)?;
    assert!(rehash.contains("m=2048,t=2,p=1"));
    let again = current.verify(Some(&rehash), &pw).await?;
    assert!(again.ok && again.rehash.is_none());
    let wrong = SecretString::from("another fine passphrase".to_owned());
    assert!(!current.verify(Some(&rehash), &wrong).await?.ok);
    assert!(!current.verify(None, &pw).await?.ok);
    Ok(())
}
