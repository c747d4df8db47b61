//! Resetting a lost password by email.
//!
//! Policy (OWASP Forgot Password Cheat Sheet; NIST 800-63B-4 §4.2): the request always gets the same answer
//! and does the same work, whether the email is known or not (it is queued; a worker looks the account up and
//! sends the email), so timing doesn't tell either; at most one email per address per 15 minutes, at most 10
//! requests per client address (IPv6 /64) per 15 minutes;
//! the link carries a 256-bit single-use token, stored hashed, valid 30 minutes. Setting the password ends every
//! session of the account and lifts a second-factor suspension, every sign-in back-off and the suspension of the
//! password for unknown devices, but never bypasses the second factor: the next sign-in still asks for it.

use crate::backend::alerts::notify::{self, Notice};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::accounts::{email_key, validate_email};
use crate::backend::identity::auth::setup::{set_password_from_link, PasswordFromLink};
use crate::backend::identity::tokens::{self, Purpose};
use crate::backend::platform::ids::{AccountId, TenantId};
use crate::backend::platform::metrics::{Decision, Limiter};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use secrecy::SecretString;
use sqlx::Row as _;

/// At most one reset email per address in this time; later requests fold into it.
pub const EMAIL_EVERY_MS: i64 = 15 * crate::backend::platform::clock::MINUTE_MS;
/// Reset requests one client address (IPv6: its /64) may make per window.
pub const IP_LIMIT: i64 = 10;
const IP_WINDOW_MS: i64 = 15 * crate::backend::platform::clock::MINUTE_MS;

/// Asks for a reset link. The request path does the same work for every well-formed email, known or not: a
/// per-address throttle and one queued row; the process's one worker (`process_queue`, woken off the request
/// path; several requests arriving together wake it once) looks the account up and sends the link. Nothing on
/// the request path waits for it, so what it does for a known address cannot show in the request's time.
/// `RateLimited` when the client address asked too often.
pub async fn request_reset(state: &AppState, meta: &RequestMeta, email: &str) -> Result<(), AppError> {
    let Ok(email) = validate_email(email) else {
        return Err(AppError::validation("email", "Enter the email address you sign in with."));
    };
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let ip = crate::backend::network::ip_guard::ip_key(&meta.ip);
    let count: i64 = sqlx::query_scalar(
        "INSERT INTO password_reset_ips (ip_key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (ip_key) DO UPDATE SET \
           count = CASE WHEN password_reset_ips.window_start <= $3 THEN 1 ELSE password_reset_ips.count + 1 END, \
           window_start = CASE WHEN password_reset_ips.window_start <= $3 THEN $2 \
                          ELSE password_reset_ips.window_start END \
         RETURNING count",
    )
    .bind(&ip)
    .bind(now)
    .bind(now - IP_WINDOW_MS)
    .fetch_one(&mut *tx)
    .await?;
    let decision = if count > IP_LIMIT { Decision::Throttled } else { Decision::Allowed };
    state.metrics.throttle(Limiter::PasswordReset, decision);
    if count > IP_LIMIT {
        tx.rollback().await?;
        return Err(AppError::RateLimited { retry_after: u64::try_from(IP_WINDOW_MS / 1000).unwrap_or(900) });
    }
    sqlx::query(
        "INSERT INTO password_reset_queue (email_hash, email, pending, requested_at, ip, user_agent) \
         VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (email_hash) DO UPDATE SET email = $2, pending = 1, \
         requested_at = $3, ip = $4, user_agent = $5",
    )
    .bind(state.keys.throttle_digest(&format!("reset:{}", email_key(&email))))
    .bind(&email)
    .bind(now)
    .bind(&meta.ip)
    .bind(&meta.user_agent)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    state.reset_wake.notify_one();
    Ok(())
}

/// Handles queued reset requests: an address that got a link within `EMAIL_EVERY_MS` gets nothing more
/// (the request folds into that email); a known one gets a fresh link; an unknown one is forgotten. Run by the
/// server's job when a request wakes it, and every 15 s (so a request acknowledged before a crash, or queued
/// on another instance, is still handled).
/// Returns how many links were sent.
pub async fn process_queue(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now_ms();
    sqlx::query("DELETE FROM password_reset_queue WHERE pending = 0 AND (last_sent_at IS NULL OR last_sent_at <= $1)")
        .bind(now - EMAIL_EVERY_MS)
        .execute(&state.pool)
        .await?;
    sqlx::query("DELETE FROM password_reset_ips WHERE window_start <= $1")
        .bind(now - IP_WINDOW_MS)
        .execute(&state.pool)
        .await?;
    let hashes: Vec<String> = sqlx::query_scalar(
        "SELECT email_hash FROM password_reset_queue WHERE pending = 1 ORDER BY requested_at LIMIT 200",
    )
    .fetch_all(&state.pool)
    .await?;
    let mut sent = 0;
    for hash in hashes {
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        // Read and claimed in one transaction by one worker only (another instance or a concurrent kick finds
        // it taken), and judged by the time of its claim, not of this run's start.
        let Some(r) = sqlx::query(
            "SELECT email, ip, user_agent, last_sent_at FROM password_reset_queue WHERE email_hash = $1 AND pending = 1",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.commit().await?;
            continue;
        };
        let claimed = sqlx::query(
            "UPDATE password_reset_queue SET pending = 0, email = '' WHERE email_hash = $1 AND pending = 1",
        )
        .bind(&hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            tx.commit().await?;
            continue;
        }
        let now = state.clock.now_ms();
        let email: String = r.try_get("email")?;
        let meta = RequestMeta { ip: r.try_get("ip")?, user_agent: r.try_get("user_agent")? };
        let last_sent: Option<i64> = r.try_get("last_sent_at")?;
        if last_sent.is_some_and(|at| now - at < EMAIL_EVERY_MS) {
            tx.commit().await?;
            continue;
        }
        let Some((link, address, tenant_name)) = issue_link(state, &mut tx, &meta, &email, now).await? else {
            sqlx::query("DELETE FROM password_reset_queue WHERE email_hash = $1").bind(&hash).execute(&mut *tx).await?;
            tx.commit().await?;
            continue;
        };
        sqlx::query("UPDATE password_reset_queue SET last_sent_at = $1 WHERE email_hash = $2")
            .bind(now)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        notify::send(state, &Notice::PasswordResetLink { link: &link }, &address, &tenant_name, &meta).await;
        sent += 1;
    }
    Ok(sent)
}

/// Issues a reset link for the account of `email`, with its audit event, in the caller's transaction:
/// (link, address, tenant name), or `None` when no account with a password has that email.
async fn issue_link(
    state: &AppState,
    tx: &mut sqlx::AnyConnection,
    meta: &RequestMeta,
    email: &str,
    now: i64,
) -> Result<Option<(String, String, String)>, AppError> {
    let row = sqlx::query(
        "SELECT a.id, a.email, m.tenant_id, t.name FROM accounts a JOIN memberships m ON m.account_id = a.id \
         JOIN tenants t ON t.id = m.tenant_id WHERE a.email_key = $1 AND a.password_hash IS NOT NULL \
         ORDER BY m.created_at, m.id LIMIT 1",
    )
    .bind(email_key(email))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let account = AccountId(row.try_get("id")?);
    let tenant = TenantId(row.try_get("tenant_id")?);
    let address: String = row.try_get("email")?;
    let tenant_name: String = row.try_get("name")?;
    let token = tokens::issue(&mut *tx, now, Purpose::Reset, &account, &tenant).await?;
    audit::record(
        &mut *tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&tenant),
            account_id: Some(&account),
            actor: &address,
            action: "password.reset_request",
            outcome: Outcome::Success,
            meta,
            detail: "link sent by email",
            key_id: None,
        },
    )
    .await?;
    Ok(Some((format!("{}/reset-password/{token}", state.public_url), address, tenant_name)))
}

/// Sets a new password from a reset link: uses the link up, ends every session, lifts a suspension.
pub async fn complete_reset(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &SecretString,
) -> Result<(), AppError> {
    let PasswordFromLink { subject, mut tx, now } =
        set_password_from_link(state, Purpose::Reset, token, password).await?;
    sqlx::query("UPDATE accounts SET mfa_consecutive_failures = 0, mfa_window_failures = 0 WHERE id = $1")
        .bind(subject.account_id.as_str())
        .execute(&mut *tx)
        .await?;
    // Lifts the sign-in throttling and the password suspension of every device and IP.
    crate::backend::identity::throttle::clear(state, &mut tx, &email_key(&subject.email)).await?;
    let ended = crate::backend::identity::sessions::end_account_sessions(&mut tx, &subject.account_id, None).await?;
    let detail = format!("{ended} session(s) ended");
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&subject.tenant_id),
            account_id: Some(&subject.account_id),
            actor: &subject.email,
            action: "password.reset",
            outcome: Outcome::Success,
            meta,
            detail: &detail,
            key_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    crate::backend::access::epoch::bump();
    notify::send(state, &Notice::PasswordReset, &subject.email, &subject.tenant_name, meta).await;
    Ok(())
}
