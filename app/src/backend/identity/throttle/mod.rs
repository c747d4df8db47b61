//! Sign-in throttling: exponential back-off per account and per (account, client IP), a suspension of the
//! password factor after 100 consecutive failures, and separate budgets for devices and IPs that signed in
//! before, so an attacker elsewhere cannot lock the real user out (Keycloak's lock-out DoS, Zitadel's permanent
//! lock are the traps).
//!
//! Policy (NIST SP 800-63B §5.2.2: at most 100 consecutive failed attempts per account; OWASP Authentication
//! Cheat Sheet: back-off rather than hard lock-out, same answer for every failure):
//! - Counters live in the database (`sign_in_throttle`), shared by every instance and kept across restarts,
//!   keyed by an HMAC (server key) of the scope and the normalised email — never by account id — so an unknown
//!   email is throttled exactly like a known one and the table leaks no existence.
//! - An attempt is counted *before* the password check (a conditional update on the counter value it read),
//!   so parallel requests cannot slip past a limit; a correct password then resets the counters of its budget.
//!   A throttled or suspended attempt changes no counter and never reaches argon2.
//! - Budgets, by how the attempt presents itself, each with its own counters:
//!   * unknown device and IP: per account 10 free failures, per (account, IP or IPv6 /64) 5 free, then 1 s, 2 s, 4 s …
//!     capped at 15 minutes; at 100 consecutive failures the password is suspended for unknown devices until
//!     a reset by email;
//!   * a known device (the `__Host-rampart-device` cookie of an earlier full sign-in of this account): 10 free
//!     failures, the same back-off, suspended for that device only at 100;
//!   * a known IP (an IP that completed a sign-in of this account): the same, per (account, IP).
//! - A success resets only the counters of the budget it used: the real user signing in from their laptop
//!   does not hand an attacker a fresh set of 100 guesses.
//! - Every failed attempt (wrong, throttled, suspended) also counts toward the "20 consecutive failures" alert
//!   of the account, reset by a correct password from any budget.
//! - A password reset by email deletes every counter of the email (`clear`), lifting every suspension.

pub mod devices;

use crate::backend::platform::clock::MINUTE_MS;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// Free failures per account from unknown devices, and from a known device or IP.
const ACCOUNT_FREE: i64 = 10;
/// Free failures per (account, IP) from unknown devices.
const PAIR_FREE: i64 = 5;
/// The longest back-off.
pub const MAX_DELAY_MS: i64 = 15 * MINUTE_MS;
/// Consecutive failures of a budget after which its password factor is suspended until a reset by email.
pub const SUSPEND_AFTER: i64 = 100;
/// Consecutive failed sign-ins of an account that raise the alert (exactly once per streak).
pub const ALERT_AFTER: i64 = 20;
/// Counters untouched this long are forgotten, unless they suspend a password.
const FORGET_AFTER_MS: i64 = 30 * 24 * 60 * MINUTE_MS;

/// Where an attempt comes from, as far as this account is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Neither the device nor the IP completed a sign-in of this account (or there is no such account).
    Unknown,
    /// The IP completed a sign-in of this account before.
    KnownIp,
    /// The browser carries the device cookie of an earlier full sign-in of this account (its hash).
    KnownDevice(String),
}

impl Standing {
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Unknown)
    }
}

/// Why an attempt is refused before the password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Throttled,
    Suspended,
}

impl Refusal {
    /// The audit detail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Suspended => "suspended",
        }
    }
}

/// A password budget's decision, as the metrics count it.
pub fn decision(refusal: Option<Refusal>) -> crate::backend::platform::metrics::Decision {
    use crate::backend::platform::metrics::Decision;
    match refusal {
        None => Decision::Allowed,
        Some(Refusal::Throttled) => Decision::Throttled,
        Some(Refusal::Suspended) => Decision::Suspended,
    }
}

struct Scope {
    key: String,
    free: i64,
    suspends: bool,
}

/// The counters an attempt for one email, IP and standing is checked against.
pub struct Counters {
    email_hash: String,
    scopes: Vec<Scope>,
    alert: String,
}

impl Counters {
    /// The counters for `email_key` (already normalised) from `ip` with `standing`.
    pub fn new(state: &AppState, email_key: &str, ip: &str, standing: &Standing) -> Self {
        let d = |scope: String| state.keys.throttle_digest(&scope);
        let scopes = match standing {
            Standing::Unknown => vec![
                Scope { key: d(format!("account\n{email_key}")), free: ACCOUNT_FREE, suspends: true },
                Scope {
                    key: d(format!("pair\n{email_key}\n{}", crate::backend::network::ip_guard::ip_key(ip))),
                    free: PAIR_FREE,
                    suspends: false,
                },
            ],
            Standing::KnownIp => {
                vec![Scope { key: d(format!("known-ip\n{email_key}\n{ip}")), free: ACCOUNT_FREE, suspends: true }]
            }
            Standing::KnownDevice(hash) => {
                vec![Scope { key: d(format!("device\n{email_key}\n{hash}")), free: ACCOUNT_FREE, suspends: true }]
            }
        };
        Self { email_hash: d(format!("email\n{email_key}")), scopes, alert: d(format!("alert\n{email_key}")) }
    }
}

/// The back-off after `failures` consecutive failures of a budget with `free` free ones.
pub fn delay_ms(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from((failures - free).min(30)).unwrap_or(30);
    1000i64.saturating_mul(1i64 << doublings).min(MAX_DELAY_MS)
}

async fn read(conn: &mut AnyConnection, key: &str) -> Result<Option<(i64, i64)>, AppError> {
    let row = sqlx::query("SELECT failures, last_failure_at FROM sign_in_throttle WHERE scope_key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get("failures")?, r.try_get("last_failure_at")?)),
        None => None,
    })
}

/// Decides an attempt and, when it may go on to the password check, counts it as a failure in advance (the
/// caller's write transaction `conn`; a correct password resets it with `reset`). Conditional on the values
/// read, so two racing attempts cannot both take the last allowed one.
pub async fn reserve(conn: &mut AnyConnection, counters: &Counters, now: i64) -> Result<Result<(), Refusal>, AppError> {
    let mut seen = Vec::with_capacity(counters.scopes.len());
    for scope in &counters.scopes {
        let current = read(conn, &scope.key).await?;
        let (failures, last) = current.unwrap_or((0, 0));
        if scope.suspends && failures >= SUSPEND_AFTER {
            return Ok(Err(Refusal::Suspended));
        }
        if now < last.saturating_add(delay_ms(failures, scope.free)) {
            return Ok(Err(Refusal::Throttled));
        }
        seen.push(current);
    }
    for (scope, current) in counters.scopes.iter().zip(seen) {
        let done = match current {
            None => sqlx::query(
                "INSERT INTO sign_in_throttle (scope_key, email_hash, failures, last_failure_at) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (scope_key) DO NOTHING",
            )
            .bind(&scope.key)
            .bind(&counters.email_hash)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
            Some((failures, _)) => sqlx::query(
                "UPDATE sign_in_throttle SET failures = failures + 1, last_failure_at = $1 \
                 WHERE scope_key = $2 AND failures = $3",
            )
            .bind(now)
            .bind(&scope.key)
            .bind(failures)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        };
        if done != 1 {
            // Another attempt took this turn first: this one waits like any throttled attempt. The caller
            // rolls its transaction back, undoing the counts taken above.
            return Ok(Err(Refusal::Throttled));
        }
    }
    Ok(Ok(()))
}

/// Counts a failed attempt toward the account's alert; returns the consecutive failures so far.
pub async fn count_for_alert(conn: &mut AnyConnection, counters: &Counters, now: i64) -> Result<i64, AppError> {
    let row = sqlx::query(
        "INSERT INTO sign_in_throttle (scope_key, email_hash, failures, last_failure_at) VALUES ($1, $2, 1, $3) \
         ON CONFLICT (scope_key) DO UPDATE SET failures = sign_in_throttle.failures + 1, last_failure_at = $3 \
         RETURNING failures",
    )
    .bind(&counters.alert)
    .bind(&counters.email_hash)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("failures")?)
}

/// A correct password: the counters of its budget and the alert streak start again.
pub async fn reset(conn: &mut AnyConnection, counters: &Counters) -> Result<(), AppError> {
    for key in counters.scopes.iter().map(|s| &s.key).chain(std::iter::once(&counters.alert)) {
        sqlx::query("DELETE FROM sign_in_throttle WHERE scope_key = $1").bind(key).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Forgets every counter of an email (a password reset by email): lifts every suspension and back-off.
pub async fn clear(state: &AppState, conn: &mut AnyConnection, email_key: &str) -> Result<(), AppError> {
    sqlx::query("DELETE FROM sign_in_throttle WHERE email_hash = $1")
        .bind(state.keys.throttle_digest(&format!("email\n{email_key}")))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes counters untouched for 30 days, except those that suspend a password.
pub async fn forget_stale(state: &AppState) -> Result<u64, AppError> {
    let cutoff = state.clock.now_ms() - FORGET_AFTER_MS;
    let done = sqlx::query("DELETE FROM sign_in_throttle WHERE last_failure_at < $1 AND failures < $2")
        .bind(cutoff)
        .bind(SUSPEND_AFTER)
        .execute(&state.pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(delay_ms(0, 5), 0);
        assert_eq!(delay_ms(4, 5), 0);
        assert_eq!(delay_ms(5, 5), 1000);
        assert_eq!(delay_ms(6, 5), 2000);
        assert_eq!(delay_ms(8, 5), 8000);
        assert_eq!(delay_ms(15, 5), MAX_DELAY_MS);
        assert_eq!(delay_ms(10_000, 5), MAX_DELAY_MS);
    }
}
