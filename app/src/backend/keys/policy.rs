//! The organisation's key policy: the longest life a key may have, when unused keys are disabled, and who is
//! told of a canary.

use super::*;

/// The tenant's key policy.
pub async fn policy(conn: &mut AnyConnection, ctx: &TenantCtx) -> Result<KeyPolicyView, AppError> {
    let row =
        sqlx::query("SELECT key_max_age_days, key_disable_unused_days, security_contact FROM tenants WHERE id = $1")
            .bind(ctx.tenant_id().as_str())
            .fetch_one(conn)
            .await?;
    Ok(KeyPolicyView {
        max_age_days: row.try_get("key_max_age_days")?,
        disable_unused_days: row.try_get("key_disable_unused_days")?,
        security_contact: row.try_get("security_contact")?,
    })
}

/// Changes the key policy (admin, step-up). Shortening the maximum age does not shorten existing keys; the
/// list shows which ones outlive it.
pub async fn set_policy(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &crate::backend::access::AdminHandle,
    _proof: &SteppedUp,
    new: &KeyPolicyView,
) -> Result<(), AppError> {
    if !MAX_AGE_DAYS.contains(&new.max_age_days) {
        return Err(AppError::validation("max_age_days", "The maximum key age is 1 to 730 days."));
    }
    if new.disable_unused_days.is_some_and(|d| !(1..=730).contains(&d)) {
        return Err(AppError::validation("disable_unused_days", "Disable unused keys after 1 to 730 days, or never."));
    }
    let contact = new.security_contact.trim();
    if !contact.is_empty() && crate::backend::identity::accounts::validate_email(contact).is_err() {
        return Err(AppError::validation("security_contact", "The security contact must be an email address."));
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let before = policy(&mut tx, ctx).await?;
    sqlx::query(
        "UPDATE tenants SET key_max_age_days = $1, key_disable_unused_days = $2, security_contact = $3 WHERE id = $4",
    )
    .bind(new.max_age_days)
    .bind(new.disable_unused_days)
    .bind(contact)
    .bind(ctx.tenant_id().as_str())
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "max age {} → {} days; disable unused after {} → {}; security contact {} → {}",
        before.max_age_days,
        new.max_age_days,
        days_or_never(before.disable_unused_days),
        days_or_never(new.disable_unused_days),
        or_none(&before.security_contact),
        or_none(contact)
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "key_policy.update", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

fn days_or_never(d: Option<i64>) -> String {
    d.map(|d| format!("{d} days")).unwrap_or_else(|| "never".to_owned())
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "none"
    } else {
        s
    }
}
