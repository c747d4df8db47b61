//! The member's security settings page: two-factor status, recovery codes left, password rules, step-up, and
//! the tenant policy an admin may change.

use crate::backend::access::TenantCtx;
use crate::backend::AppState;
use crate::model::{AppError, PasswordPolicyView, SecurityView};

/// Everything the security page shows; `step_up_valid_until` comes from the session.
pub async fn get_security(
    state: &AppState,
    ctx: &TenantCtx,
    step_up_valid_until: Option<i64>,
) -> Result<SecurityView, AppError> {
    let mut conn = state.pool.acquire().await?;
    let two_factor_enabled = crate::backend::identity::two_factor::is_enabled(&mut conn, ctx.account_id()).await?;
    let recovery_codes_left =
        crate::backend::identity::two_factor::recovery_codes_left(&mut conn, ctx.account_id()).await?;
    let tenant_requires_two_factor = crate::backend::identity::two_factor::tenant_requires(&mut conn, ctx).await?;
    let min_chars = crate::backend::identity::password::min_chars_for(&mut conn, ctx.account_id()).await?;
    Ok(SecurityView {
        email: ctx.actor().to_owned(),
        two_factor_enabled,
        recovery_codes_left,
        recovery_codes_low: crate::backend::identity::two_factor::RECOVERY_CODES_LOW,
        tenant_requires_two_factor,
        can_manage_policy: ctx.is_admin(),
        step_up_valid_until,
        password_policy: PasswordPolicyView { min_chars, max_chars: crate::backend::identity::password::MAX_CHARS },
    })
}
