//! The tenant's network rules from the console: the IP block list and the console allow list (owners and
//! admins; changes need a step-up).

use crate::model::{AppError, IpRulesView};
use leptos::prelude::*;

/// The network rules page's data.
#[server(prefix = "/api", endpoint = "get_ip_rules")]
pub async fn get_ip_rules() -> Result<IpRulesView, AppError> {
    use super::ssr::{client_ip, finish, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let until = crate::backend::identity::sessions::step_up_valid_until(&session()?, st.clock.now_ms()).await?;
            crate::backend::network::rules::get_rules(&st, &ctx, &admin, client_ip()?, until).await
        }
        .await,
    )
}

/// Blocks an address or CIDR block on the console and the API; an empty `expires_in_days` blocks until removed.
#[server(prefix = "/api", endpoint = "add_ip_block")]
pub async fn add_ip_block(cidr: String, reason: String, expires_in_days: Option<String>) -> Result<(), AppError> {
    use super::ssr::{client_ip, finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let days = match expires_in_days.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => {
                    Some(s.parse().map_err(|_| AppError::validation("expires_in_days", "Enter a whole number."))?)
                }
            };
            crate::backend::network::rules::add_block(
                &st,
                &meta()?,
                &ctx,
                &admin,
                &proof,
                client_ip()?,
                &cidr,
                &reason,
                days,
            )
            .await?;
            leptos_axum::redirect("/security/network?blocked=1");
            Ok(())
        }
        .await,
    )
}

/// Removes an entry of the block list.
#[server(prefix = "/api", endpoint = "remove_ip_block")]
pub async fn remove_ip_block(block_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::network::rules::remove_block(&st, &meta()?, &ctx, &admin, &proof, &block_id).await?;
            leptos_axum::redirect("/security/network?unblocked=1");
            Ok(())
        }
        .await,
    )
}

/// Replaces the console allow list; refused unless it contains the admin's current address (or is empty).
#[server(prefix = "/api", endpoint = "set_console_allow_list")]
pub async fn set_console_allow_list(allowed_ips: Option<String>) -> Result<(), AppError> {
    use super::ssr::{client_ip, finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::network::rules::set_console_allow_list(
                &st,
                &meta()?,
                &ctx,
                &admin,
                &proof,
                client_ip()?,
                allowed_ips.as_deref().unwrap_or(""),
            )
            .await?;
            leptos_axum::redirect("/security/network?allow_list=saved");
            Ok(())
        }
        .await,
    )
}
