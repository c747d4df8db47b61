//! Two-factor authentication: TOTP enrollment and verification, recovery codes, second-factor throttling.
//!
//! Policy:
//! - TOTP per RFC 6238 with SHA-1, 6 digits, 30 s steps (what every authenticator app supports); the current
//!   step ±1 is accepted. A code is accepted only for a step later than the last accepted one, through one
//!   conditional UPDATE, so a code works once even when two requests race (RFC 6238 §5.2). A replayed valid
//!   code is refused, audited and alerted to the member and the tenant's security contact (`alerts`).
//! - Secrets: 160 random bits, sealed with AES-256-GCM under a key derived from the server master key, bound to
//!   the account id; shown only during enrollment, which ends when the member confirms a first code.
//! - Recovery codes: 10 codes of 60 bits (12 Crockford base-32 characters), stored as keyed HMACs, each usable
//!   once, regenerated as a set.
//! - Throttling (NIST SP 800-63B §3.2.2): at most 5 wrong codes per account per 30 s step; after 100
//!   consecutive failures the factor is suspended until a password reset by email or an admin's reset.

use crate::backend::access::TenantCtx;
use crate::backend::alerts::notify::{self, Notice};
use crate::backend::alerts::{self, Alert};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::crypto::random_bytes;
use crate::backend::platform::ids::AccountId;
use crate::backend::platform::metrics::{Decision, Limiter};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, TotpEnrollmentView};
use sqlx::{AnyConnection, Row as _};

mod policy;
mod recovery;
#[cfg(test)]
mod tests;

pub use policy::{disable, required_for_account, reset_member, set_policy, tenant_requires};
use recovery::{normalize_recovery_code, replace_recovery_codes};
pub use recovery::{recovery_codes_left, regenerate_recovery_codes, RECOVERY_CODES, RECOVERY_CODES_LOW};

/// The name authenticator apps show for Rampart accounts.
pub const ISSUER: &str = "Rampart";
/// RFC 6238 time step.
const STEP_S: i64 = 30;
/// Wrong codes allowed per account per time step.
const MAX_FAILURES_PER_STEP: i64 = 5;
/// Consecutive wrong codes before the factor is suspended.
pub const MAX_CONSECUTIVE_FAILURES: i64 = 100;
/// An unconfirmed enrollment secret is shown again for this long (a failed confirmation keeps the same QR).
const PENDING_REUSE_MS: i64 = 10 * crate::backend::platform::clock::MINUTE_MS;

/// The message for every refused code: wrong, reused, or of a suspended factor all look alike to the client.
pub const CODE_REFUSED: &str = "That code is not valid. Enter the current code from your authenticator app, or a \
                                recovery code.";

fn step_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000) / STEP_S
}

fn totp_for(secret: Vec<u8>, account_name: &str) -> Result<totp_rs::Totp, AppError> {
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account_name.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| crate::backend::platform::failure::internal("TOTP parameters", e))
}

/// The step a code matches (current ±1), if any; comparison in constant time inside totp-rs.
fn matching_step(totp: &totp_rs::Totp, code: &str, now_ms: i64) -> Option<i64> {
    let secs = u64::try_from(now_ms.div_euclid(1000)).ok()?;
    totp.check(code, secs).and_then(|s| i64::try_from(s).ok())
}

/// An inline SVG of a QR code, drawn as one path (no inline styles, so the page's CSP holds).
fn qr_svg(data: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| AppError::validation("qr", "The enrollment link is too long for a QR code."))?;
    let width = code.width();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut path = String::new();
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"220\" height=\"220\" \
         role=\"img\" aria-label=\"QR code for your authenticator app\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

fn base32(bytes: &[u8]) -> String {
    // RFC 4648 base-32 without padding: what authenticator apps expect for manual entry.
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            out.push(char::from(ALPHABET[((buffer >> (bits - 5)) & 31) as usize]));
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

struct FactorRow {
    secret: Vec<u8>,
    created_at: i64,
    enabled: bool,
}

async fn load_factor(
    state: &AppState,
    conn: &mut AnyConnection,
    account: &AccountId,
) -> Result<Option<FactorRow>, AppError> {
    let row = sqlx::query("SELECT secret_enc, key_id, created_at, enabled_at FROM totp_factors WHERE account_id = $1")
        .bind(account.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let sealed: String = row.try_get("secret_enc")?;
    let key_id: String = row.try_get("key_id")?;
    let enabled_at: Option<i64> = row.try_get("enabled_at")?;
    Ok(Some(FactorRow {
        secret: state.keys.open(&key_id, account.as_str().as_bytes(), &sealed)?,
        created_at: row.try_get("created_at")?,
        enabled: enabled_at.is_some(),
    }))
}

/// Whether the account has a confirmed authenticator.
pub async fn is_enabled(conn: &mut AnyConnection, account: &AccountId) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM totp_factors WHERE account_id = $1 AND enabled_at IS NOT NULL")
        .bind(account.as_str())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Starts (or resumes, within 10 minutes) enrolling an authenticator: the secret as text, the otpauth link and
/// a QR code, with the mark of this enrollment for the browser to keep. Refused once an authenticator is
/// confirmed: its secret is never shown again.
///
/// Only the browser that started an enrollment resumes it (`started`: the mark it kept, a digest of the
/// secret, which a 160-bit secret's digest does not reveal): another session
/// of the account (someone else who knows the password, at the enrollment step of a sign-in) would otherwise be
/// shown the secret the member is about to confirm. Any other caller gets a new secret, which replaces it.
pub async fn start_enrollment(
    state: &AppState,
    ctx: &TenantCtx,
    started: Option<&str>,
) -> Result<(TotpEnrollmentView, String), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let existing = load_factor(state, &mut tx, ctx.account_id()).await?;
    let secret = match existing {
        Some(f) if f.enabled => {
            return Err(AppError::Conflict { msg: "Two-factor authentication is already on.".to_owned() })
        }
        Some(f)
            if started.is_some_and(|m| {
                crate::backend::platform::crypto::constant_time_eq(m.as_bytes(), enrollment_mark(&f.secret).as_bytes())
            }) && now - f.created_at < PENDING_REUSE_MS
                && now >= f.created_at =>
        {
            f.secret
        }
        _ => {
            let secret = random_bytes::<20>().to_vec();
            let (key_id, sealed) = state.keys.seal(ctx.account_id().as_str().as_bytes(), &secret)?;
            sqlx::query("DELETE FROM totp_factors WHERE account_id = $1 AND enabled_at IS NULL")
                .bind(ctx.account_id().as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO totp_factors (account_id, secret_enc, key_id, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(ctx.account_id().as_str())
            .bind(sealed)
            .bind(key_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            secret
        }
    };
    tx.commit().await?;
    let mark = enrollment_mark(&secret);
    let secret_base32 = base32(&secret);
    let totp = totp_for(secret, ctx.actor())?;
    let otpauth_uri = totp.to_url().map_err(|_| AppError::validation("email", "This email cannot label a code."))?;
    let view = TotpEnrollmentView {
        qr_svg: qr_svg(&otpauth_uri)?,
        secret_base32: secret_base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        otpauth_uri,
        account_label: ctx.actor().to_owned(),
    };
    Ok((view, mark))
}

/// What the browser that started an enrollment keeps to resume it: a digest of its secret.
fn enrollment_mark(secret: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(secret))
}

/// Confirms enrollment with a first valid code: the authenticator is on, a first set of recovery codes is made
/// (returned to show once), and an admin's "enroll again" demand is met.
pub async fn confirm_enrollment(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    code: &str,
) -> Result<Vec<String>, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let factor = load_factor(state, &mut tx, ctx.account_id()).await?;
    let Some(factor) = factor.filter(|f| !f.enabled) else {
        return Err(AppError::Conflict { msg: "Start the set-up again: open the two-factor page.".to_owned() });
    };
    let totp = totp_for(factor.secret, ctx.actor())?;
    let Some(step) = matching_step(&totp, code.trim(), now) else {
        audit::record(
            &mut tx,
            &state.keys,
            now,
            &NewEvent::by(ctx, meta, "two_factor.enable", Outcome::Failure, "wrong code"),
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::validation(
            "code",
            "That code does not match. Check that your phone's clock is right and enter the current code.",
        ));
    };
    let done = sqlx::query(
        "UPDATE totp_factors SET enabled_at = $1, last_step = $2 WHERE account_id = $3 AND enabled_at IS NULL",
    )
    .bind(now)
    .bind(step)
    .bind(ctx.account_id().as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict { msg: "Two-factor authentication is already on.".to_owned() });
    }
    sqlx::query(
        "UPDATE accounts SET must_enroll_two_factor = 0, mfa_consecutive_failures = 0, mfa_window_failures = 0 \
         WHERE id = $1",
    )
    .bind(ctx.account_id().as_str())
    .execute(&mut *tx)
    .await?;
    let codes = replace_recovery_codes(state, &mut tx, ctx.account_id(), now).await?;
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "two_factor.enable", Outcome::Success, "totp"))
        .await?;
    tx.commit().await?;
    notify::send(state, &Notice::TwoFactorEnabled, ctx.actor(), ctx.tenant_name(), meta).await;
    Ok(codes)
}

/// How a second factor was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Totp,
    RecoveryCode,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
        }
    }
}

/// Counts a failure in the throttling state, atomically.
async fn count_failure(conn: &mut AnyConnection, account: &AccountId, step: i64) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE accounts SET \
           mfa_window_failures = CASE WHEN mfa_window_step = $1 THEN mfa_window_failures + 1 ELSE 1 END, \
           mfa_window_step = $1, mfa_consecutive_failures = mfa_consecutive_failures + 1 \
         WHERE id = $2",
    )
    .bind(step)
    .bind(account.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes an account's second-factor attempts take turns, so the throttle counts each one before the next reads
/// the counters. SQLite's write transaction already does (one writer at a time). On PostgreSQL a transaction
/// reads the counters as they were committed: twenty codes sent at once, from one instance or several, each
/// read "no failures yet" and were all checked, four times the step's five. The first statement of the
/// attempt's own transaction takes a transaction-level advisory lock of the account; nothing else takes that
/// lock, and nothing is locked before it, so it cannot close a wait cycle with the chain heads or the account
/// row.
async fn serialize_attempts(conn: &mut AnyConnection, account: &AccountId) -> Result<(), AppError> {
    if !conn.backend_name().eq_ignore_ascii_case("postgresql") {
        return Ok(());
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("rampart-second-factor:{}", account.as_str()).as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(i64::from_be_bytes(key)).execute(conn).await?;
    Ok(())
}

/// Refuses before any check when the account is throttled or suspended.
async fn check_throttle(
    conn: &mut AnyConnection,
    keys: &crate::backend::platform::crypto::ServerKeys,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), AppError> {
    let row = sqlx::query(
        "SELECT mfa_window_step, mfa_window_failures, mfa_consecutive_failures FROM accounts WHERE id = $1",
    )
    .bind(ctx.account_id().as_str())
    .fetch_one(&mut *conn)
    .await?;
    let window_step: i64 = row.try_get("mfa_window_step")?;
    let window_failures: i64 = row.try_get("mfa_window_failures")?;
    let consecutive: i64 = row.try_get("mfa_consecutive_failures")?;
    if consecutive >= MAX_CONSECUTIVE_FAILURES {
        audit::record(
            conn,
            keys,
            now,
            &NewEvent::by(ctx, meta, "sign_in.second_factor", Outcome::Failure, "factor suspended"),
        )
        .await?;
        return Err(AppError::validation(
            "code",
            "Two-factor sign-in is suspended after too many wrong codes. Reset your password by email \
             (\"Forgot your password?\") or ask an administrator to reset your two-factor authentication.",
        ));
    }
    let step = step_of(now);
    if window_step == step && window_failures >= MAX_FAILURES_PER_STEP {
        let retry_after = u64::try_from((step + 1) * STEP_S * 1000 - now).unwrap_or(0).div_ceil(1000).max(1);
        audit::record(
            conn,
            keys,
            now,
            &NewEvent::by(ctx, meta, "sign_in.second_factor", Outcome::Failure, "throttled"),
        )
        .await?;
        return Err(AppError::RateLimited { retry_after });
    }
    Ok(())
}

/// Checks a second factor (a TOTP code or a recovery code) for the account in `ctx`. Success resets the
/// failure counters; a failure counts toward throttling and is audited under `action`.
pub async fn verify(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    code: &str,
    action: &str,
) -> Result<Proof, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    serialize_attempts(&mut tx, ctx.account_id()).await?;
    if let Err(e) = check_throttle(&mut tx, &state.keys, ctx, meta, now).await {
        let refused = match &e {
            AppError::RateLimited { .. } => Some(Decision::Throttled),
            AppError::Validation { .. } => Some(Decision::Suspended),
            _ => None,
        };
        if let Some(decision) = refused {
            state.metrics.throttle(Limiter::SecondFactor, decision);
            state.metrics.second_factor(if decision == Decision::Throttled { "throttled" } else { "suspended" });
        }
        tx.commit().await?;
        return Err(e);
    }
    state.metrics.throttle(Limiter::SecondFactor, Decision::Allowed);
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let refused = || AppError::validation("code", CODE_REFUSED);
    let mut replayed = false;
    let proof = if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let factor = load_factor(state, &mut tx, ctx.account_id()).await?.filter(|f| f.enabled);
        match factor {
            Some(f) => match matching_step(&totp_for(f.secret, ctx.actor())?, &digits, now) {
                Some(step) => {
                    // The one write that decides: only a step later than the last accepted one passes.
                    let done = sqlx::query(
                        "UPDATE totp_factors SET last_step = $1 \
                         WHERE account_id = $2 AND enabled_at IS NOT NULL AND last_step < $1",
                    )
                    .bind(step)
                    .bind(ctx.account_id().as_str())
                    .execute(&mut *tx)
                    .await?;
                    replayed = done.rows_affected() != 1;
                    (!replayed).then_some(Proof::Totp)
                }
                None => None,
            },
            None => None,
        }
    } else if let Some(canonical) = normalize_recovery_code(code) {
        recovery::redeem(state, &mut tx, ctx.account_id(), &canonical, now).await?.then_some(Proof::RecoveryCode)
    } else {
        None
    };
    match proof {
        Some(proof) => {
            sqlx::query("UPDATE accounts SET mfa_consecutive_failures = 0, mfa_window_failures = 0 WHERE id = $1")
                .bind(ctx.account_id().as_str())
                .execute(&mut *tx)
                .await?;
            if proof == Proof::RecoveryCode {
                audit::record(
                    &mut tx,
                    &state.keys,
                    now,
                    &NewEvent::by(ctx, meta, "recovery_code.use", Outcome::Success, ""),
                )
                .await?;
            }
            tx.commit().await?;
            state.metrics.second_factor(proof.as_str());
            Ok(proof)
        }
        None => {
            count_failure(&mut tx, ctx.account_id(), step_of(now)).await?;
            let detail = if replayed { "totp code replayed" } else { "wrong code" };
            audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, action, Outcome::Failure, detail))
                .await?;
            if replayed {
                audit::record(
                    &mut tx,
                    &state.keys,
                    now,
                    &NewEvent::by(ctx, meta, "two_factor.replay", Outcome::Failure, "alert"),
                )
                .await?;
            }
            // A replay, or a correct password followed by a wrong code at sign-in, tells the member and the
            // security contact (through the alert digest).
            let alert = if replayed {
                Some(Alert::totp_replay(ctx.actor(), meta))
            } else {
                (action == "sign_in.second_factor").then(|| Alert::wrong_second_factor(ctx.actor(), meta))
            };
            if let Some(alert) = &alert {
                let to = alerts::member_and_contact(&mut tx, ctx.tenant_id(), ctx.actor()).await?;
                alerts::enqueue(&mut tx, now, ctx.tenant_id(), ctx.tenant_name(), &to, alert).await?;
            }
            tx.commit().await?;
            state.metrics.second_factor(if replayed { "replayed" } else { "wrong_code" });
            if alert.is_some() {
                alerts::spawn_delivery(state);
            }
            Err(refused())
        }
    }
}
