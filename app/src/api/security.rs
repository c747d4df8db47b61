//! The member's security settings: step-up, password change, the tenant's two-factor policy.

use crate::model::{AppError, SecurityView};
use leptos::prelude::*;

/// The security page's data.
#[server(prefix = "/api", endpoint = "get_security")]
pub async fn get_security() -> Result<SecurityView, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let until = crate::backend::identity::sessions::step_up_valid_until(&session()?, st.clock.now_ms()).await?;
            crate::backend::identity::security::get_security(&st, &ctx, until).await
        }
        .await,
    )
}

/// Confirms it's the member (password, plus a code when enrolled) for the next 10 minutes of sensitive changes,
/// then returns to `next` (a path inside the console).
#[server(prefix = "/api", endpoint = "step_up")]
pub async fn step_up(password: String, code: Option<String>, next: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, local_path, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let password = secrecy::SecretString::from(password);
            crate::backend::identity::auth::step_up(&st, &meta()?, &ctx, &password, code.as_deref().unwrap_or(""))
                .await?;
            crate::backend::identity::sessions::mark_stepped_up(&session()?, st.clock.now_ms()).await?;
            leptos_axum::redirect(&local_path(next.as_deref().unwrap_or("/security")));
            Ok(())
        }
        .await,
    )
}

/// Changes the password (step-up and the current password required); optionally signs out every other session.
#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    sign_out_others: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::identity::sessions;
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let session = session()?;
            let proof = sessions::require_step_up(&session, st.clock.now_ms()).await?;
            let keep = sessions::current_id_hash(&session);
            crate::backend::identity::auth::change_password(
                &st,
                &meta()?,
                &ctx,
                &proof,
                &secrecy::SecretString::from(current_password),
                &secrecy::SecretString::from(new_password),
                sign_out_others.is_some(),
                keep.as_deref(),
            )
            .await?;
            leptos_axum::redirect("/security?password=changed");
            Ok(())
        }
        .await,
    )
}

/// Switches "require two-factor authentication for every member" (owner or admin with two-factor, step-up).
#[server(prefix = "/api", endpoint = "set_two_factor_policy")]
pub async fn set_two_factor_policy(required: Option<String>, reason: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, identity::two_factor};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let on = required.as_deref().is_some_and(|v| v == "on" || v == "true");
            let meta = meta()?;
            let act = crate::backend::approvals::Act::TwoFactorPolicy { required: on };
            match crate::backend::approvals::gate(&st, &ctx, &meta, act, reason.as_deref()).await? {
                crate::backend::approvals::Gate::Go(cleared) => {
                    two_factor::set_policy(&st, &meta, &ctx, &admin, &proof, &cleared, on).await?;
                    leptos_axum::redirect("/security?policy=saved");
                }
                crate::backend::approvals::Gate::Waiting(_) => leptos_axum::redirect("/settings/approvals?requested=1"),
            }
            Ok(())
        }
        .await,
    )
}
