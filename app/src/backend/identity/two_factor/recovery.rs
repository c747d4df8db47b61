//! Recovery codes: 10 codes of 60 bits (12 Crockford base-32 characters), stored as keyed HMACs, each usable
//! once, shown once, regenerated as a set.

use super::is_enabled;
use crate::backend::access::TenantCtx;
use crate::backend::alerts::notify::{self, Notice};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::crypto::random_bytes;
use crate::backend::platform::ids::AccountId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// How many recovery codes a set has.
pub const RECOVERY_CODES: usize = 10;
/// The console warns when this many or fewer recovery codes are left.
pub const RECOVERY_CODES_LOW: i64 = 3;
/// Crockford's base-32 alphabet: no I, L, O, U, so codes read aloud and typed by hand survive.
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

pub(super) fn new_recovery_code() -> String {
    let bytes = random_bytes::<12>();
    let chars: String = bytes.iter().map(|b| char::from(CROCKFORD[usize::from(b & 31)])).collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// A typed recovery code in its canonical form (lower case, no separators, Crockford's look-alikes mapped).
pub(super) fn normalize_recovery_code(input: &str) -> Option<String> {
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
pub(super) async fn replace_recovery_codes(
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

/// Uses up one recovery code of the account; `false` when it is not one of its unused codes.
pub(super) async fn redeem(
    state: &AppState,
    conn: &mut AnyConnection,
    account: &AccountId,
    canonical: &str,
    now: i64,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE account_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(account.as_str())
    .bind(state.keys.recovery_code_digest(canonical))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Regenerates the recovery codes (step-up required); the old set stops working at once.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _proof: &SteppedUp,
) -> Result<Vec<String>, AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    if !is_enabled(&mut tx, ctx.account_id()).await? {
        return Err(AppError::Conflict { msg: "Turn on two-factor authentication first.".to_owned() });
    }
    let codes = replace_recovery_codes(state, &mut tx, ctx.account_id(), now).await?;
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "recovery_codes.regenerate", Outcome::Success, ""),
    )
    .await?;
    tx.commit().await?;
    notify::send(state, &Notice::RecoveryCodesRegenerated, ctx.actor(), ctx.tenant_name(), meta).await;
    Ok(codes)
}
