//! The tenant's members.

use crate::model::{AppError, MembersView};
use leptos::prelude::*;

/// Every member of the tenant (owners and admins only).
#[server(prefix = "/api", endpoint = "list_members")]
pub async fn list_members() -> Result<MembersView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::members::list_members(&state()?, &ctx, &admin).await
        }
        .await,
    )
}

/// Removes a member's authenticator and recovery codes (admin, step-up); the member enrolls again.
#[server(prefix = "/api", endpoint = "reset_member_two_factor")]
pub async fn reset_member_two_factor(membership_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{ids::MembershipId, sessions, two_factor};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            two_factor::reset_member(&st, &meta()?, &ctx, &admin, &proof, &MembershipId(membership_id)).await?;
            leptos_axum::redirect("/members?reset=done");
            Ok(())
        }
        .await,
    )
}
