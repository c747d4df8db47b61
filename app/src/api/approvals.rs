//! Four-eyes approval from the console: the setting (owners), the requests, approving (step-up), refusing,
//! cancelling one's own, and the secret of one's approved master key.

use crate::model::{AppError, ApprovalsView, FreshKeyView};
use leptos::prelude::*;

/// The setting and the organisation's requests.
#[server(prefix = "/api", endpoint = "get_approvals")]
pub async fn get_approvals() -> Result<ApprovalsView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::approvals::decide::list(&state()?, &ctx, &admin).await
        }
        .await,
    )
}

/// Turns "a second admin approves the riskiest acts" on or off (owners, step-up); off waits for approval.
#[server(prefix = "/api", endpoint = "set_four_eyes")]
pub async fn set_four_eyes(required: Option<String>, reason: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::approvals::{self, Act, Gate};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let on = required.as_deref().is_some_and(|v| v == "on" || v == "true");
            let meta = meta()?;
            match approvals::gate(&st, &ctx, &meta, Act::FourEyes { on }, reason.as_deref()).await? {
                Gate::Go(cleared) => {
                    approvals::set_required(&st, &ctx, &owner, &meta, &cleared, on).await?;
                    leptos_axum::redirect("/settings/approvals?saved=1");
                }
                Gate::Waiting(_) => leptos_axum::redirect("/settings/approvals?requested=1"),
            }
            Ok(())
        }
        .await,
    )
}

/// Approves another admin's request (step-up); its act runs now.
#[server(prefix = "/api", endpoint = "approve_request")]
pub async fn approve_request(approval_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::approvals::decide::approve(&st, &ctx, &admin, &proof, &meta()?, &approval_id).await?;
            leptos_axum::redirect("/settings/approvals?approved=1");
            Ok(())
        }
        .await,
    )
}

/// Refuses another admin's request.
#[server(prefix = "/api", endpoint = "refuse_request")]
pub async fn refuse_request(approval_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::approvals::decide::refuse(&state()?, &ctx, &admin, &meta()?, &approval_id).await?;
            leptos_axum::redirect("/settings/approvals");
            Ok(())
        }
        .await,
    )
}

/// Cancels one's own request.
#[server(prefix = "/api", endpoint = "cancel_request")]
pub async fn cancel_request(approval_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::approvals::decide::cancel(&state()?, &ctx, &admin, &meta()?, &approval_id).await?;
            leptos_axum::redirect("/settings/approvals");
            Ok(())
        }
        .await,
    )
}

/// The secret of the caller's approved master key, once.
#[server(prefix = "/api", endpoint = "take_approved_key")]
pub async fn take_approved_key() -> Result<Option<FreshKeyView>, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            ctx.require_admin()?;
            crate::backend::approvals::decide::take_key_secret(&state()?, &ctx).await
        }
        .await,
    )
}
