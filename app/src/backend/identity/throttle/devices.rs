//! Known devices and IPs: what gives a sign-in attempt its own, more generous throttling budget and what makes
//! a sign-in "from a new device".
//!
//! A device is a browser carrying `__Host-rampart-device`, a 256-bit random cookie set at a full sign-in
//! (`Secure`, `HttpOnly`, `SameSite=Strict`, `Path=/`, one year); only its SHA-256 is stored, per account, with
//! first and last seen, IP and user agent. One browser keeps one cookie for every account signing in on it. An
//! IP is known to an account once a full sign-in of the account completed from it.

use super::Standing;
use crate::backend::access::TenantCtx;
use crate::backend::alerts::{self, Alert};
use crate::backend::platform::crypto::{random_token, token_digest};
use crate::backend::platform::ids::AccountId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// The device cookie's name. `__Host-` binds it to this origin over HTTPS with `Path=/` (RFC 6265bis).
pub const DEVICE_COOKIE: &str = "__Host-rampart-device";
/// How long a browser keeps the device cookie.
const COOKIE_MAX_AGE_S: i64 = 365 * 24 * 3600;
/// The longest cookie value even looked at.
const MAX_COOKIE: usize = 128;

/// The device cookie the browser sent, if any.
pub fn device_cookie(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == DEVICE_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= MAX_COOKIE)
}

/// The `Set-Cookie` value that gives a browser its device cookie.
pub fn set_cookie_value(token: &str) -> String {
    format!("{DEVICE_COOKIE}={token}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; Secure; HttpOnly; SameSite=Strict")
}

/// How an attempt for `account` presents itself: a known device, a known IP, or neither.
pub async fn standing(
    conn: &mut AnyConnection,
    account: &AccountId,
    cookie: Option<&str>,
    ip: &str,
) -> Result<Standing, AppError> {
    if let Some(cookie) = cookie {
        let hash = token_digest(cookie);
        let row = sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE account_id = $1 AND token_hash = $2")
            .bind(account.as_str())
            .bind(&hash)
            .fetch_one(&mut *conn)
            .await?;
        if row.try_get::<i64, _>("n")? > 0 {
            return Ok(Standing::KnownDevice(hash));
        }
    }
    let row = sqlx::query("SELECT COUNT(*) AS n FROM known_sign_in_ips WHERE account_id = $1 AND ip = $2")
        .bind(account.as_str())
        .bind(ip)
        .fetch_one(&mut *conn)
        .await?;
    Ok(if row.try_get::<i64, _>("n")? > 0 { Standing::KnownIp } else { Standing::Unknown })
}

/// Remembers the device and IP of a completed sign-in of `ctx`'s account; a sign-in from neither a known
/// device nor a known IP, other than the account's very first, raises the new-device alert. Returns a new
/// device cookie value to give the browser, if it needs one.
pub async fn remember(
    state: &AppState,
    ctx: &TenantCtx,
    cookie: Option<&str>,
    meta: &RequestMeta,
) -> Result<Option<String>, AppError> {
    let account = ctx.account_id();
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let standing = standing(&mut tx, account, cookie, &meta.ip).await?;
    let seen_before = {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM known_devices WHERE account_id = $1) + \
             (SELECT COUNT(*) FROM known_sign_in_ips WHERE account_id = $1) AS n",
        )
        .bind(account.as_str())
        .fetch_one(&mut *tx)
        .await?;
        row.try_get::<i64, _>("n")? > 0
    };
    let new_device = seen_before && standing == Standing::Unknown;
    let mut set_cookie = None;
    match &standing {
        Standing::KnownDevice(hash) => {
            sqlx::query(
                "UPDATE known_devices SET last_seen_at = $1, last_ip = $2, user_agent = $3 \
                 WHERE account_id = $4 AND token_hash = $5",
            )
            .bind(now)
            .bind(&meta.ip)
            .bind(&meta.user_agent)
            .bind(account.as_str())
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        }
        Standing::KnownIp | Standing::Unknown => {
            // A cookie this server minted for another account on this browser is shared; anything else (none,
            // forged, forgotten) is replaced by a fresh one.
            let minted = match cookie {
                Some(c) => {
                    let row = sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE token_hash = $1")
                        .bind(token_digest(c))
                        .fetch_one(&mut *tx)
                        .await?;
                    (row.try_get::<i64, _>("n")? > 0).then(|| c.to_owned())
                }
                None => None,
            };
            let token = match minted {
                Some(c) => c,
                None => {
                    let t = random_token();
                    set_cookie = Some(t.clone());
                    t
                }
            };
            sqlx::query(
                "INSERT INTO known_devices (id, account_id, token_hash, first_ip, last_ip, user_agent, \
                 first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $4, $5, $6, $6)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(account.as_str())
            .bind(token_digest(&token))
            .bind(&meta.ip)
            .bind(&meta.user_agent)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query(
        "INSERT INTO known_sign_in_ips (account_id, ip, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (account_id, ip) DO UPDATE SET last_seen_at = $3",
    )
    .bind(account.as_str())
    .bind(&meta.ip)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if new_device {
        let to = alerts::member_and_contact(&mut tx, ctx.tenant_id(), ctx.actor()).await?;
        let alert = Alert::new_device(ctx.actor(), meta);
        alerts::enqueue(&mut tx, now, ctx.tenant_id(), ctx.tenant_name(), &to, &alert).await?;
    }
    tx.commit().await?;
    if new_device {
        alerts::spawn_delivery(state);
    }
    Ok(set_cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_cookie_is_found_among_others() -> Result<(), Box<dyn std::error::Error>> {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::COOKIE, "__Host-rampart=abc; __Host-rampart-device=xyz123".parse()?);
        assert_eq!(device_cookie(&h).as_deref(), Some("xyz123"));
        h.insert(http::header::COOKIE, "__Host-rampart=abc".parse()?);
        assert_eq!(device_cookie(&h), None);
        assert!(set_cookie_value("t").contains("HttpOnly; SameSite=Strict"));
        Ok(())
    }
}
