//! The tenant's members: the list (team grant), roles and grants, offboarding, two-factor resets.
// A server function takes one argument per form field (a plain HTML form posts one checkbox per grant), and
// the macro-generated client stub repeats the signature, so the lint is silenced for this file only.
#![allow(clippy::too_many_arguments)]

use crate::model::{AppError, MembersView};
use leptos::prelude::*;

/// Every member of the tenant (needs the team feature).
#[server(prefix = "/api", endpoint = "list_members")]
pub async fn list_members() -> Result<MembersView, AppError> {
    use super::ssr::{finish, recorded, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::Team>()?;
            recorded(crate::backend::organisation::members::list_members(&state()?, &ctx, &granted)).await
        }
        .await,
    )
}

/// Changes a member's role and grants (owners and admins; step-up for raising to admin/owner or changing
/// grants). Each `grant_*` checkbox is present when ticked.
#[server(prefix = "/api", endpoint = "update_member")]
pub async fn update_member(
    membership_id: String,
    role: String,
    grant_team: Option<String>,
    grant_api_keys: Option<String>,
    grant_ssh_keys: Option<String>,
    grant_vault_read: Option<String>,
    grant_vault_write: Option<String>,
    grant_access_history: Option<String>,
    grant_export: Option<String>,
    grant_settings: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx, ticked_grants};
    use crate::backend::{identity::sessions, organisation::members, platform::ids::MembershipId};
    use crate::model::Role;
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let role = Role::parse(&role).ok_or_else(|| AppError::validation("role", "Choose a role."))?;
            let grants = ticked_grants([
                grant_team,
                grant_api_keys,
                grant_ssh_keys,
                grant_vault_read,
                grant_vault_write,
                grant_access_history,
                grant_export,
                grant_settings,
            ]);
            let step_up = sessions::require_step_up(&session()?, st.clock.now_ms()).await.ok();
            let id = MembershipId(membership_id);
            members::update_member(&st, &meta()?, &ctx, &admin, step_up.as_ref(), &id, role, &grants).await?;
            leptos_axum::redirect("/members?saved=1");
            Ok(())
        }
        .await,
    )
}

/// Offboards a member: deactivated, every session ended at once (owners and admins).
#[server(prefix = "/api", endpoint = "deactivate_member")]
pub async fn deactivate_member(membership_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    use crate::backend::{organisation::members, platform::ids::MembershipId};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            members::deactivate_member(&state()?, &meta()?, &ctx, &admin, &MembershipId(membership_id)).await?;
            leptos_axum::redirect("/members?deactivated=1");
            Ok(())
        }
        .await,
    )
}

/// Reactivates a deactivated member (owners and admins).
#[server(prefix = "/api", endpoint = "reactivate_member")]
pub async fn reactivate_member(membership_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    use crate::backend::{organisation::members, platform::ids::MembershipId};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            members::reactivate_member(&state()?, &meta()?, &ctx, &admin, &MembershipId(membership_id)).await?;
            leptos_axum::redirect("/members?reactivated=1");
            Ok(())
        }
        .await,
    )
}

/// Removes a member from the organisation (owners and admins, step-up).
#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(membership_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, organisation::members, platform::ids::MembershipId};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            members::remove_member(&st, &meta()?, &ctx, &admin, &proof, &MembershipId(membership_id)).await?;
            leptos_axum::redirect("/members?removed=1");
            Ok(())
        }
        .await,
    )
}

/// Erases a member's personal data from the organisation (owners and admins, step-up; `confirm` must be the
/// word ERASE): the membership is removed and what the organisation holds about them is anonymised.
#[server(prefix = "/api", endpoint = "erase_member")]
pub async fn erase_member(membership_id: String, confirm: String, reason: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, organisation::erasure, platform::ids::MembershipId};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            erasure::check_subject(&st, &ctx, &MembershipId(membership_id.clone())).await?;
            if confirm.trim() != "ERASE" {
                return Err(AppError::validation("confirm", "Type ERASE to confirm."));
            }
            let meta = meta()?;
            let act = crate::backend::approvals::Act::EraseMember { membership_id: membership_id.clone() };
            match crate::backend::approvals::gate(&st, &ctx, &meta, act, reason.as_deref()).await? {
                crate::backend::approvals::Gate::Go(cleared) => {
                    let id = MembershipId(membership_id);
                    erasure::erase_member(&st, &meta, &ctx, &admin, &proof, &cleared, &id, &confirm).await?;
                    leptos_axum::redirect("/members?erased=1");
                }
                crate::backend::approvals::Gate::Waiting(_) => leptos_axum::redirect("/settings/approvals?requested=1"),
            }
            Ok(())
        }
        .await,
    )
}

/// Removes a member's authenticator and recovery codes (admin, step-up); the member enrolls again.
#[server(prefix = "/api", endpoint = "reset_member_two_factor")]
pub async fn reset_member_two_factor(membership_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, identity::two_factor, platform::ids::MembershipId};
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
