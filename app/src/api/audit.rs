//! The access history.

use crate::model::{AppError, AuditEventView};
use leptos::prelude::*;

/// The tenant's 50 newest events.
#[server(prefix = "/api", endpoint = "list_recent_events")]
pub async fn list_recent_events() -> Result<Vec<AuditEventView>, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require(crate::model::Permission::AccessHistory)?;
            crate::backend::audit::list_latest(&state()?.pool, &ctx, &granted, 50).await
        }
        .await,
    )
}
