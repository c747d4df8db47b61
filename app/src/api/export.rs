//! Data exports from the console: the page's data, starting one (the `export` feature and a step-up), and one
//! export's progress (what the page polls while it is built). The download is a plain GET route of the server
//! (`/data-export/{id}/download`).

use crate::model::{AppError, DataExportView, DataExportsView};
use leptos::prelude::*;

/// The data export page: the tenant's latest exports and the viewer's step-up state.
#[server(prefix = "/api", endpoint = "get_data_exports")]
pub async fn get_data_exports() -> Result<DataExportsView, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::Export>()?;
            let until = crate::backend::identity::sessions::step_up_valid_until(&session()?, st.clock.now_ms()).await?;
            crate::backend::export::page(&st, &ctx, &granted, until).await
        }
        .await,
    )
}

/// Starts an export of all of the organisation's data; `None` when it waits for a second admin's approval.
#[server(prefix = "/api", endpoint = "start_data_export")]
pub async fn start_data_export(reason: Option<String>) -> Result<Option<DataExportView>, AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{export, identity::sessions};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::Export>()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let meta = meta()?;
            match crate::backend::approvals::gate(
                &st,
                &ctx,
                &meta,
                crate::backend::approvals::Act::DataExport,
                reason.as_deref(),
            )
            .await?
            {
                crate::backend::approvals::Gate::Go(cleared) => {
                    let fresh = export::Fresh::SteppedUp(&proof);
                    let view = export::request(&st, &ctx, &granted, fresh, &meta, &cleared).await?;
                    leptos_axum::redirect("/data-export?started=1");
                    Ok(Some(view))
                }
                crate::backend::approvals::Gate::Waiting(_) => {
                    leptos_axum::redirect("/settings/approvals?requested=1");
                    Ok(None)
                }
            }
        }
        .await,
    )
}

/// One export's state and progress.
#[server(prefix = "/api", endpoint = "get_data_export")]
pub async fn get_data_export(export_id: String) -> Result<DataExportView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::Export>()?;
            crate::backend::export::get(&st, &ctx, &granted, &export_id).await
        }
        .await,
    )
}
