//! Support access with the organisation's consent, from the console (owners): the consent settings, and the
//! platform's requests approved (step-up), refused or ended.

use crate::model::{AppError, ConsentView};
use leptos::prelude::*;

/// The consent settings and every support request.
#[server(prefix = "/api", endpoint = "get_consent")]
pub async fn get_consent() -> Result<ConsentView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            crate::backend::support::consent(&state()?, &ctx, &owner).await
        }
        .await,
    )
}

/// Saves the consent settings (step-up). Checkboxes arrive only when ticked.
#[server(prefix = "/api", endpoint = "set_consent")]
pub async fn set_consent(
    support_allowed: Option<String>,
    vault_allowed: Option<String>,
    exports_allowed: Option<String>,
    security_contact: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let ticked = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "on" || v == "true");
            let contact = security_contact.unwrap_or_default();
            let flags = (ticked(&vault_allowed), ticked(&exports_allowed));
            crate::backend::support::set_consent(
                &st,
                &ctx,
                &owner,
                &proof,
                &meta()?,
                ticked(&support_allowed),
                flags,
                &contact,
            )
            .await?;
            leptos_axum::redirect("/settings/consent?saved=1");
            Ok(())
        }
        .await,
    )
}

/// Approves a support request for `hours` (step-up), the vault or the exports only when ticked.
#[server(prefix = "/api", endpoint = "approve_support")]
pub async fn approve_support(
    support_id: String,
    hours: String,
    include_vault: Option<String>,
    include_exports: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let hours =
                hours.trim().parse().map_err(|_| AppError::validation("hours", "Give a whole number of hours."))?;
            let ticked = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "on" || v == "true");
            let flags = (ticked(&include_vault), ticked(&include_exports));
            crate::backend::support::approve(&st, &ctx, &owner, &proof, &meta()?, &support_id, hours, flags).await?;
            leptos_axum::redirect("/settings/consent?approved=1");
            Ok(())
        }
        .await,
    )
}

/// Refuses a support request.
#[server(prefix = "/api", endpoint = "refuse_support")]
pub async fn refuse_support(support_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            crate::backend::support::refuse(&state()?, &ctx, &owner, &meta()?, &support_id).await?;
            leptos_axum::redirect("/settings/consent");
            Ok(())
        }
        .await,
    )
}

/// Ends a support access at once (or withdraws consent from a waiting request).
#[server(prefix = "/api", endpoint = "revoke_support")]
pub async fn revoke_support(support_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            crate::backend::support::revoke(&state()?, &ctx, &owner, &meta()?, &support_id).await?;
            leptos_axum::redirect("/settings/consent?ended=1");
            Ok(())
        }
        .await,
    )
}
