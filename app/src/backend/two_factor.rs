//! Two-factor authentication: TOTP enrollment and verification, recovery codes, second-factor throttling.
//!
//! Policy:
//! - TOTP per RFC 6238 with SHA-1, 6 digits, 30 s steps (what every authenticator app supports); the current
//!   step ±1 is accepted. A code is accepted only for a step later than the last accepted one, through one
//!   conditional UPDATE, so a code works once even when two requests race (RFC 6238 §5.2). A replayed valid
//!   code is refused, audited and mailed to the member.
//! - Secrets: 160 random bits, sealed with AES-256-GCM under a key derived from the server master key, bound to
//!   the account id; shown only during enrollment, which ends when the member confirms a first code.
//! - Recovery codes: 10 codes of 60 bits (12 Crockford base-32 characters), stored as keyed HMACs, each usable
//!   once, regenerated as a set.
//! - Throttling (NIST SP 800-63B §3.2.2): at most 5 wrong codes per account per 30 s step; after 100
//!   consecutive failures the factor is suspended until a password reset by email or an admin's reset.

use super::audit::{self, NewEvent, Outcome};
use super::context::{AdminHandle, TenantCtx};
use super::crypto::random_bytes;
use super::ids::{AccountId, MembershipId};
use super::notify::{self, Notice};
use super::request::RequestMeta;
use super::sessions::SteppedUp;
use super::AppState;
use crate::model::{AppError, TotpEnrollmentView};
use sqlx::{AnyConnection, Row as _};

/// The name authenticator apps show for Rampart accounts.
pub const ISSUER: &str = "Rampart";
/// RFC 6238 time step.
const STEP_S: i64 = 30;
/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;
/// The console warns when this many or fewer recovery codes are left.
pub const RECOVERY_CODES_LOW: i64 = 3;
/// Wrong codes allowed per account per time step.
const MAX_FAILURES_PER_STEP: i64 = 5;
/// Consecutive wrong codes before the factor is suspended.
pub const MAX_CONSECUTIVE_FAILURES: i64 = 100;
/// An unconfirmed enrollment secret is shown again for this long (a failed confirmation keeps the same QR).
const PENDING_REUSE_MS: i64 = 10 * super::clock::MINUTE_MS;
/// Crockford's base-32 alphabet: no I, L, O, U, so codes read aloud and typed by hand survive.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

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
        .map_err(|e| {
            let op_id = super::crypto::op_id();
            tracing::error!(op_id = %op_id, error = %e, "TOTP parameters refused");
            AppError::Internal { op_id }
        })
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
/// a QR code. Refused once an authenticator is confirmed: its secret is never shown again.
pub async fn start_enrollment(state: &AppState, ctx: &TenantCtx) -> Result<TotpEnrollmentView, AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    let existing = load_factor(state, &mut tx, &ctx.account_id).await?;
    let secret = match existing {
        Some(f) if f.enabled => {
            return Err(AppError::Conflict { msg: "Two-factor authentication is already on.".to_owned() })
        }
        Some(f) if now - f.created_at < PENDING_REUSE_MS && now >= f.created_at => f.secret,
        _ => {
            let secret = random_bytes::<20>().to_vec();
            let (key_id, sealed) = state.keys.seal(ctx.account_id.as_str().as_bytes(), &secret)?;
            sqlx::query("DELETE FROM totp_factors WHERE account_id = $1 AND enabled_at IS NULL")
                .bind(ctx.account_id.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO totp_factors (account_id, secret_enc, key_id, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(ctx.account_id.as_str())
            .bind(sealed)
            .bind(key_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            secret
        }
    };
    tx.commit().await?;
    let secret_base32 = base32(&secret);
    let totp = totp_for(secret, &ctx.email)?;
    let otpauth_uri = totp.to_url().map_err(|_| AppError::validation("email", "This email cannot label a code."))?;
    Ok(TotpEnrollmentView {
        qr_svg: qr_svg(&otpauth_uri)?,
        secret_base32: secret_base32
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        otpauth_uri,
        account_label: ctx.email.clone(),
    })
}

fn new_recovery_code() -> String {
    let bytes = random_bytes::<12>();
    let chars: String = bytes.iter().map(|b| char::from(CROCKFORD[usize::from(b & 31)])).collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// A typed recovery code in its canonical form (lower case, no separators, Crockford's look-alikes mapped).
fn normalize_recovery_code(input: &str) -> Option<String> {
    let s: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    (s.len() == 12 && s.bytes().all(|b| CROCKFORD.contains(&b))).then_some(s)
}

/// Replaces the account's recovery codes with a fresh set; returns the codes (to show once).
async fn replace_recovery_codes(
    state: &AppState,
    conn: &mut AnyConnection,
    account: &AccountId,
    now: i64,
) -> Result<Vec<String>, AppError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account.as_str()).execute(&mut *conn).await?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code();
        let canonical = normalize_recovery_code(&code).unwrap_or_default();
        sqlx::query("INSERT INTO recovery_codes (id, account_id, code_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(account.as_str())
            .bind(state.keys.recovery_code_digest(&canonical))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        codes.push(code);
    }
    Ok(codes)
}

/// How many unused recovery codes the account has.
pub async fn recovery_codes_left(conn: &mut AnyConnection, account: &AccountId) -> Result<i64, AppError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
        .bind(account.as_str())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
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
    let mut tx = state.pool.begin().await?;
    let factor = load_factor(state, &mut tx, &ctx.account_id).await?;
    let Some(factor) = factor.filter(|f| !f.enabled) else {
        return Err(AppError::Conflict { msg: "Start the set-up again: open the two-factor page.".to_owned() });
    };
    let totp = totp_for(factor.secret, &ctx.email)?;
    let Some(step) = matching_step(&totp, code.trim(), now) else {
        audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "two_factor.enable", Outcome::Failure, "wrong code"))
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
    .bind(ctx.account_id.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict { msg: "Two-factor authentication is already on.".to_owned() });
    }
    sqlx::query(
        "UPDATE accounts SET must_enroll_two_factor = 0, mfa_consecutive_failures = 0, mfa_window_failures = 0 \
         WHERE id = $1",
    )
    .bind(ctx.account_id.as_str())
    .execute(&mut *tx)
    .await?;
    let codes = replace_recovery_codes(state, &mut tx, &ctx.account_id, now).await?;
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "two_factor.enable", Outcome::Success, "totp")).await?;
    tx.commit().await?;
    notify::send(state, &Notice::TwoFactorEnabled, &ctx.email, &ctx.tenant_name, meta).await;
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

/// Refuses before any check when the account is throttled or suspended.
async fn check_throttle(
    state: &AppState,
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    now: i64,
) -> Result<(), AppError> {
    let row = sqlx::query(
        "SELECT mfa_window_step, mfa_window_failures, mfa_consecutive_failures FROM accounts WHERE id = $1",
    )
    .bind(ctx.account_id.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let window_step: i64 = row.try_get("mfa_window_step")?;
    let window_failures: i64 = row.try_get("mfa_window_failures")?;
    let consecutive: i64 = row.try_get("mfa_consecutive_failures")?;
    if consecutive >= MAX_CONSECUTIVE_FAILURES {
        audit::record(
            conn,
            now,
            &NewEvent::by(ctx, meta, "sign_in.second_factor", Outcome::Failure, "factor suspended"),
        )
        .await?;
        let _ = state;
        return Err(AppError::validation(
            "code",
            "Two-factor sign-in is suspended after too many wrong codes. Reset your password by email \
             (\"Forgot your password?\") or ask an administrator to reset your two-factor authentication.",
        ));
    }
    let step = step_of(now);
    if window_step == step && window_failures >= MAX_FAILURES_PER_STEP {
        let retry_after = u64::try_from((step + 1) * STEP_S * 1000 - now).unwrap_or(0).div_ceil(1000).max(1);
        audit::record(conn, now, &NewEvent::by(ctx, meta, "sign_in.second_factor", Outcome::Failure, "throttled"))
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
    let mut tx = state.pool.begin().await?;
    if let Err(e) = check_throttle(state, &mut tx, ctx, meta, now).await {
        tx.commit().await?;
        return Err(e);
    }
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let refused = || AppError::validation("code", CODE_REFUSED);
    let mut replayed = false;
    let proof = if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let factor = load_factor(state, &mut tx, &ctx.account_id).await?.filter(|f| f.enabled);
        match factor {
            Some(f) => match matching_step(&totp_for(f.secret, &ctx.email)?, &digits, now) {
                Some(step) => {
                    // The one write that decides: only a step later than the last accepted one passes.
                    let done = sqlx::query(
                        "UPDATE totp_factors SET last_step = $1 \
                         WHERE account_id = $2 AND enabled_at IS NOT NULL AND last_step < $1",
                    )
                    .bind(step)
                    .bind(ctx.account_id.as_str())
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
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(ctx.account_id.as_str())
        .bind(state.keys.recovery_code_digest(&canonical))
        .execute(&mut *tx)
        .await?;
        (done.rows_affected() == 1).then_some(Proof::RecoveryCode)
    } else {
        None
    };
    match proof {
        Some(proof) => {
            sqlx::query("UPDATE accounts SET mfa_consecutive_failures = 0, mfa_window_failures = 0 WHERE id = $1")
                .bind(ctx.account_id.as_str())
                .execute(&mut *tx)
                .await?;
            if proof == Proof::RecoveryCode {
                audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "recovery_code.use", Outcome::Success, ""))
                    .await?;
            }
            tx.commit().await?;
            Ok(proof)
        }
        None => {
            count_failure(&mut tx, &ctx.account_id, step_of(now)).await?;
            let detail = if replayed { "totp code replayed" } else { "wrong code" };
            audit::record(&mut tx, now, &NewEvent::by(ctx, meta, action, Outcome::Failure, detail)).await?;
            if replayed {
                audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "two_factor.replay", Outcome::Failure, "alert"))
                    .await?;
            }
            tx.commit().await?;
            if replayed {
                notify::send(state, &Notice::TotpReplay, &ctx.email, &ctx.tenant_name, meta).await;
            }
            Err(refused())
        }
    }
}

/// Regenerates the recovery codes (step-up required); the old set stops working at once.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _proof: &SteppedUp,
) -> Result<Vec<String>, AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    if !is_enabled(&mut tx, &ctx.account_id).await? {
        return Err(AppError::Conflict { msg: "Turn on two-factor authentication first.".to_owned() });
    }
    let codes = replace_recovery_codes(state, &mut tx, &ctx.account_id, now).await?;
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "recovery_codes.regenerate", Outcome::Success, "")).await?;
    tx.commit().await?;
    notify::send(state, &Notice::RecoveryCodesRegenerated, &ctx.email, &ctx.tenant_name, meta).await;
    Ok(codes)
}

/// Whether any tenant the account belongs to requires two-factor authentication.
pub async fn required_for_account(conn: &mut AnyConnection, account: &AccountId) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.account_id = $1 AND t.require_two_factor = 1",
    )
    .bind(account.as_str())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// Switches the member's own two-factor authentication off (step-up required); refused while a tenant of the
/// account requires it.
pub async fn disable(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _proof: &SteppedUp,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    if required_for_account(&mut tx, &ctx.account_id).await? {
        return Err(AppError::Conflict {
            msg: "Your organisation requires two-factor authentication, so it cannot be switched off.".to_owned(),
        });
    }
    remove_factor(&mut tx, &ctx.account_id).await?;
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "two_factor.disable", Outcome::Success, "")).await?;
    tx.commit().await?;
    notify::send(state, &Notice::TwoFactorDisabled, &ctx.email, &ctx.tenant_name, meta).await;
    Ok(())
}

async fn remove_factor(conn: &mut AnyConnection, account: &AccountId) -> Result<(), AppError> {
    sqlx::query("DELETE FROM totp_factors WHERE account_id = $1").bind(account.as_str()).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1").bind(account.as_str()).execute(&mut *conn).await?;
    Ok(())
}

/// An admin removes a member's authenticator and recovery codes (step-up required): the member's sessions end,
/// the suspension (if any) is lifted, and the member enrolls again at the next sign-in.
pub async fn reset_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    membership: &MembershipId,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    let row = sqlx::query(
        "SELECT a.id, a.email FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.id = $1 AND m.tenant_id = $2",
    )
    .bind(membership.as_str())
    .bind(ctx.tenant_id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let account = AccountId(row.try_get("id")?);
    let email: String = row.try_get("email")?;
    remove_factor(&mut tx, &account).await?;
    sqlx::query(
        "UPDATE accounts SET must_enroll_two_factor = 1, mfa_consecutive_failures = 0, mfa_window_failures = 0 \
         WHERE id = $1",
    )
    .bind(account.as_str())
    .execute(&mut *tx)
    .await?;
    let ended = super::sessions::end_account_sessions(&mut tx, &account, None).await?;
    let detail = format!("member {email}; {ended} session(s) ended");
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "two_factor.reset_by_admin", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    notify::send(state, &Notice::TwoFactorResetByAdmin { admin: &ctx.email }, &email, &ctx.tenant_name, meta).await;
    Ok(())
}

/// Switches the tenant's "two-factor authentication for every member" policy (admin, step-up). Switching it on
/// needs the admin's own authenticator, so nobody locks the tenant out of its own console.
pub async fn set_policy(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    required: bool,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = state.pool.begin().await?;
    if required && !is_enabled(&mut tx, &ctx.account_id).await? {
        return Err(AppError::Conflict {
            msg: "Set up two-factor authentication for yourself before requiring it for everyone.".to_owned(),
        });
    }
    sqlx::query("UPDATE tenants SET require_two_factor = $1 WHERE id = $2")
        .bind(i64::from(required))
        .bind(ctx.tenant_id.as_str())
        .execute(&mut *tx)
        .await?;
    // Members who are signed in without an authenticator sign in again, and enroll on the way in.
    let ended = if required {
        sqlx::query(
            "DELETE FROM sessions WHERE tenant_id = $1 AND account_id NOT IN \
             (SELECT account_id FROM totp_factors WHERE enabled_at IS NOT NULL)",
        )
        .bind(ctx.tenant_id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        0
    };
    let detail = if required {
        format!("required: off → on; {ended} session(s) without two-factor ended")
    } else {
        "required: on → off".to_owned()
    };
    audit::record(&mut tx, now, &NewEvent::by(ctx, meta, "policy.two_factor", Outcome::Success, &detail)).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the tenant requires two-factor authentication.
pub async fn tenant_requires(conn: &mut AnyConnection, ctx: &TenantCtx) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT require_two_factor FROM tenants WHERE id = $1")
        .bind(ctx.tenant_id.as_str())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<i64, _>("require_two_factor")? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_long_and_normalise() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 14);
        let canonical = normalize_recovery_code(&code).unwrap();
        assert_eq!(canonical.len(), 12, "12 symbols of 5 bits: 60 bits");
        assert_eq!(normalize_recovery_code(&code.to_uppercase().replace('-', " ")).unwrap(), canonical);
        assert_eq!(normalize_recovery_code("OIL0-abcd-efgh").unwrap(), "0110abcdefgh");
        assert!(normalize_recovery_code("123456").is_none());
        assert!(normalize_recovery_code("uuuu-uuuu-uuuu").is_none());
        assert_ne!(new_recovery_code(), new_recovery_code());
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn codes_match_the_current_step_and_one_either_side() {
        let totp = totp_for(b"12345678901234567890".to_vec(), "a@example.com").unwrap();
        let now_ms = 1_700_000_015_000i64;
        let at = |offset_steps: i64| {
            let secs = u64::try_from(now_ms / 1000 + offset_steps * STEP_S).unwrap();
            totp.generate(secs).to_string()
        };
        let step = step_of(now_ms);
        assert_eq!(matching_step(&totp, &at(0), now_ms), Some(step));
        assert_eq!(matching_step(&totp, &at(-1), now_ms), Some(step - 1));
        assert_eq!(matching_step(&totp, &at(1), now_ms), Some(step + 1));
        assert_eq!(matching_step(&totp, &at(2), now_ms), None);
        assert_eq!(matching_step(&totp, &at(-2), now_ms), None);
    }

    #[test]
    fn qr_is_a_single_path_svg() {
        let svg = qr_svg("otpauth://totp/Rampart:a%40example.com?secret=ABC&issuer=Rampart").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path") && !svg.contains("style="));
    }
}
