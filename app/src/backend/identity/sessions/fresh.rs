//! A secret made by one request and shown by the next page only (an API key, a webhook secret): kept in the
//! member's session sealed under the server key and bound to the account, taken out when shown, so a reload
//! finds nothing.

use crate::backend::access::TenantCtx;
use crate::backend::AppState;
use crate::model::AppError;

/// Keeps `secret` with two labels (what it belongs to) in the session slot `slot`.
pub async fn stash(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    slot: &str,
    labels: (&str, &str),
    secret: &str,
) -> Result<(), AppError> {
    let (seal_id, sealed) = state.keys.seal(ctx.account_id().as_str().as_bytes(), secret.as_bytes())?;
    session.insert(slot, (labels.0.to_owned(), labels.1.to_owned(), seal_id, sealed)).await.map_err(super::store_err)
}

/// Takes the slot's secret out of the session: `(labels, secret)`, once.
pub async fn take(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    slot: &str,
) -> Result<Option<((String, String), String)>, AppError> {
    let Some((a, b, seal_id, sealed)) =
        session.remove::<(String, String, String, String)>(slot).await.map_err(super::store_err)?
    else {
        return Ok(None);
    };
    let secret = state.keys.open(&seal_id, ctx.account_id().as_str().as_bytes(), &sealed)?;
    let secret = String::from_utf8(secret).map_err(|_| AppError::Unavailable)?;
    Ok(Some(((a, b), secret)))
}
