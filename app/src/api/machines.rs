//! Machines from the console (owners and admins): the list, one-time enrolment tokens (a step-up to create
//! one), and revocation.

use crate::model::{AppError, FreshMachineToken, MachinesView};
use leptos::prelude::*;

/// The organisation's machines, waiting tokens and machine CA.
#[server(prefix = "/api", endpoint = "get_machines")]
pub async fn get_machines() -> Result<MachinesView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::machines::manage::list(&state()?, &ctx, &admin).await
        }
        .await,
    )
}

/// Creates a one-time enrolment token; the page that follows shows it, once.
#[server(prefix = "/api", endpoint = "create_machine_token")]
pub async fn create_machine_token(
    name: String,
    source_range: Option<String>,
    cert_days: String,
    valid_hours: String,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::machines::enrol;
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let session = session()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session, st.clock.now_ms()).await?;
            let number = |field: &'static str, text: &str| {
                text.trim().parse::<i64>().map_err(|_| AppError::validation(field, "Give a whole number."))
            };
            let req = enrol::TokenRequest {
                name: &name,
                source_range: source_range.as_deref().unwrap_or(""),
                cert_days: number("cert_days", &cert_days)?,
                valid_hours: number("valid_hours", &valid_hours)?,
            };
            let fresh = enrol::create_token(&st, &ctx, &admin, &proof, &meta()?, &req).await?;
            enrol::stash_fresh(&st, &session, &ctx, &fresh).await?;
            leptos_axum::redirect("/settings/machines?created=1");
            Ok(())
        }
        .await,
    )
}

/// The token just created, once; `None` afterwards.
#[server(prefix = "/api", endpoint = "take_fresh_machine_token")]
pub async fn take_fresh_machine_token() -> Result<Option<FreshMachineToken>, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            ctx.require_admin()?;
            crate::backend::machines::enrol::take_fresh(&state()?, &session()?, &ctx).await
        }
        .await,
    )
}

/// Revokes an enrolment token not used yet.
#[server(prefix = "/api", endpoint = "revoke_machine_token")]
pub async fn revoke_machine_token(token_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::machines::enrol::revoke_token(&state()?, &ctx, &admin, &meta()?, &token_id).await?;
            leptos_axum::redirect("/settings/machines?token_revoked=1");
            Ok(())
        }
        .await,
    )
}

/// Revokes a machine: its certificates are refused from the next request on.
#[server(prefix = "/api", endpoint = "revoke_machine")]
pub async fn revoke_machine(machine_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::machines::manage::revoke(&state()?, &ctx, &admin, &meta()?, &machine_id).await?;
            leptos_axum::redirect("/settings/machines?revoked=1");
            Ok(())
        }
        .await,
    )
}
