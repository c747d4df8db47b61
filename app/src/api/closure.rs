//! Closing the organisation: the closure page's data, the request (owner, step-up, the name typed) and the
//! cancel (owner). These work while the organisation is closing; every other server function refuses then.

use crate::model::{AppError, ClosureView};
use leptos::prelude::*;

/// The closure page's data (every member sees the state; owners act).
#[server(prefix = "/api", endpoint = "get_closure")]
pub async fn get_closure() -> Result<ClosureView, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx_while_closing};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx_while_closing()?;
            let until = crate::backend::identity::sessions::step_up_valid_until(&session()?, st.clock.now_ms()).await?;
            crate::backend::organisation::closure::get_closure(&st, &ctx, until).await
        }
        .await,
    )
}

/// Asks for the organisation's closure in 14 days; `confirm` must be the organisation's name.
#[server(prefix = "/api", endpoint = "request_closure")]
pub async fn request_closure(confirm: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, organisation::closure};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            closure::request_closure(&st, &meta()?, &ctx, &owner, &proof, &confirm).await?;
            leptos_axum::redirect("/organisation/closure?requested=1");
            Ok(())
        }
        .await,
    )
}

/// Cancels the pending closure (an owner).
#[server(prefix = "/api", endpoint = "cancel_closure")]
pub async fn cancel_closure() -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx_while_closing};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx_while_closing()?;
            let owner = ctx.require_owner()?;
            crate::backend::organisation::closure::cancel_closure(&st, &meta()?, &ctx, &owner).await?;
            leptos_axum::redirect("/organisation/closure?cancelled=1");
            Ok(())
        }
        .await,
    )
}
