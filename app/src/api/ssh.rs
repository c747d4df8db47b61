//! Members' SSH keys from the console: list, paste, remove, link a GitHub account (members holding the SSH keys
//! feature, about their own keys; owners and admins see and remove every member's), and the key policy (owners
//! and admins, stepped up).

use crate::model::{AppError, SshKeysView};
use leptos::prelude::*;

/// The SSH keys page's data.
#[server(prefix = "/api", endpoint = "get_ssh_keys")]
pub async fn get_ssh_keys() -> Result<SshKeysView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::SshKeys>()?;
            crate::backend::ssh::manage::list(&state()?, &ctx, &granted).await
        }
        .await,
    )
}

/// Adds a pasted public key to the member's own account.
#[server(prefix = "/api", endpoint = "add_ssh_key")]
pub async fn add_ssh_key(public_key: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::SshKeys>()?;
            crate::backend::ssh::manage::add_pasted(&state()?, &meta()?, &ctx, &granted, &public_key).await?;
            leptos_axum::redirect("/ssh-keys?added=1");
            Ok(())
        }
        .await,
    )
}

/// Removes a key (one's own; owners and admins: any member's).
#[server(prefix = "/api", endpoint = "remove_ssh_key")]
pub async fn remove_ssh_key(ssh_key_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::SshKeys>()?;
            crate::backend::ssh::manage::remove(&state()?, &meta()?, &ctx, &granted, &ssh_key_id).await?;
            leptos_axum::redirect("/ssh-keys?removed=1");
            Ok(())
        }
        .await,
    )
}

/// Links the member's GitHub account and syncs its keys at once.
#[server(prefix = "/api", endpoint = "link_github")]
pub async fn link_github(github_user: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::SshKeys>()?;
            crate::backend::ssh::manage::link_github(&state()?, &meta()?, &ctx, &granted, &github_user).await?;
            leptos_axum::redirect("/ssh-keys?linked=1");
            Ok(())
        }
        .await,
    )
}

/// Unlinks the member's GitHub account; its keys go with it.
#[server(prefix = "/api", endpoint = "unlink_github")]
pub async fn unlink_github() -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::SshKeys>()?;
            crate::backend::ssh::manage::unlink_github(&state()?, &meta()?, &ctx, &granted).await?;
            leptos_axum::redirect("/ssh-keys?unlinked=1");
            Ok(())
        }
        .await,
    )
}

/// Issues a short-lived certificate for a public key (two-factor members, after a fresh step-up).
#[server(prefix = "/api", endpoint = "issue_ssh_certificate")]
pub async fn issue_ssh_certificate(public_key: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::SshKeys>()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::ssh::certs::issue(&st, &meta()?, &ctx, &granted, &proof, &public_key).await?;
            leptos_axum::redirect("/ssh-keys?certificate=1");
            Ok(())
        }
        .await,
    )
}

/// Sets the organisation's SSH key policy (`standard` or `security_keys_only`).
#[server(prefix = "/api", endpoint = "set_ssh_key_policy")]
pub async fn set_ssh_key_policy(
    policy: String,
    cert_minutes: Option<String>,
    require_certs: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let minutes = match cert_minutes.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(m) => Some(m.parse().map_err(|_| AppError::validation("cert_minutes", "Enter a whole number."))?),
            };
            let certs = require_certs.is_some_and(|v| !v.is_empty());
            crate::backend::ssh::manage::set_policy(&st, &meta()?, &ctx, &admin, &proof, &policy, minutes, certs)
                .await?;
            leptos_axum::redirect("/ssh-keys?policy=saved");
            Ok(())
        }
        .await,
    )
}

/// Ends a live SFTP session of the organisation (owners and admins).
#[server(prefix = "/api", endpoint = "end_sftp_session")]
pub async fn end_sftp_session(sftp_session_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::ssh::gateway::sessions::end(&state()?, &ctx, &admin, &meta()?, &sftp_session_id).await?;
            leptos_axum::redirect("/ssh-keys?sftp=ended");
            Ok(())
        }
        .await,
    )
}

/// Opens SFTP again after the panic button paused it (owners and admins, stepped up).
#[server(prefix = "/api", endpoint = "resume_sftp")]
pub async fn resume_sftp() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::ssh::gateway::sessions::resume(&st, &ctx, &admin, &proof, &meta()?).await?;
            leptos_axum::redirect("/ssh-keys?sftp=resumed");
            Ok(())
        }
        .await,
    )
}
