//! Invitations: invite (owners and admins), list (team feature), resend, revoke, and accepting a link.
// A server function takes one argument per form field (one checkbox per grant), and the macro-generated client
// stub repeats the signature, so the lint is silenced for this file only.
#![allow(clippy::too_many_arguments)]

use crate::model::{AppError, InvitationView, InviteInfo};
use leptos::prelude::*;

/// Invites an email with a role and grants (owners and admins; step-up for admins and grants).
#[server(prefix = "/api", endpoint = "invite_member")]
pub async fn invite_member(
    email: String,
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
    use crate::backend::{identity::sessions, organisation::invitations};
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
            invitations::invite(&st, &meta()?, &ctx, &admin, step_up.as_ref(), &email, role, &grants).await?;
            leptos_axum::redirect("/members?invited=1");
            Ok(())
        }
        .await,
    )
}

/// Open invitations (team feature).
#[server(prefix = "/api", endpoint = "list_invitations")]
pub async fn list_invitations() -> Result<Vec<InvitationView>, AppError> {
    use super::ssr::{finish, recorded, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::Team>()?;
            recorded(crate::backend::organisation::invitations::list_pending(&state()?, &ctx, &granted)).await
        }
        .await,
    )
}

/// Sends an invitation again with a new link (owners and admins).
#[server(prefix = "/api", endpoint = "resend_invitation")]
pub async fn resend_invitation(id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::organisation::invitations::resend(&state()?, &meta()?, &ctx, &admin, &id).await?;
            leptos_axum::redirect("/members?resent=1");
            Ok(())
        }
        .await,
    )
}

/// Revokes an invitation (owners and admins).
#[server(prefix = "/api", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::organisation::invitations::revoke(&state()?, &meta()?, &ctx, &admin, &id).await?;
            leptos_axum::redirect("/members?revoked=1");
            Ok(())
        }
        .await,
    )
}

/// What the invitation page shows; not found when the link is unknown, used, revoked or expired.
#[server(prefix = "/api", endpoint = "get_invite_info")]
pub async fn get_invite_info(token: String) -> Result<InviteInfo, AppError> {
    use super::ssr::{finish, state};
    finish(async { crate::backend::organisation::invitations::invite_info(&state()?, &token).await }.await)
}

/// Accepts an invitation: signed in as the invited email, the membership is added; otherwise the password
/// given creates the account, and the new member signs in.
#[server(prefix = "/api", endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String, password: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    use crate::backend::organisation::invitations;
    finish(
        async {
            let st = state()?;
            if let Ok(ctx) = tenant_ctx() {
                invitations::accept_existing(&st, &meta()?, &ctx, &token).await?;
                leptos_axum::redirect("/organisations?joined=1");
                return Ok(());
            }
            let password = password.ok_or_else(|| AppError::validation("password", "Choose a password."))?;
            invitations::accept_new(&st, &meta()?, &token, &secrecy::SecretString::from(password)).await?;
            leptos_axum::redirect("/sign-in?joined=1");
            Ok(())
        }
        .await,
    )
}
