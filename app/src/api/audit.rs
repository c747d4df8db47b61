//! The access history: filtered pages, one event, the integrity check, retention and the chain key.
#![allow(clippy::too_many_arguments)]

use crate::model::{AppError, AuditEventDetailView, ChainKeyView, ChainReportView, HistoryView};
use leptos::prelude::*;

/// One page of the filtered history (the filter fields as typed; empty means any).
#[server(prefix = "/api", endpoint = "get_history")]
pub async fn get_history(
    member: Option<String>,
    key: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    ip: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
) -> Result<HistoryView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    use crate::backend::audit::history::{history_view, FilterForm};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::AccessHistory>()?;
            let form = FilterForm { member, key, action, outcome, ip, from, to, cursor };
            history_view(&state()?, &ctx, &granted, &form).await
        }
        .await,
    )
}

/// One event with its chain values.
#[server(prefix = "/api", endpoint = "get_event")]
pub async fn get_event(event_id: String) -> Result<AuditEventDetailView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::AccessHistory>()?;
            crate::backend::audit::query::get_event(&state()?.pool, &ctx, &granted, &event_id).await
        }
        .await,
    )
}

/// Checks the organisation's chain end to end.
#[server(prefix = "/api", endpoint = "verify_history")]
pub async fn verify_history() -> Result<ChainReportView, AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::AccessHistory>()?;
            let report = crate::backend::audit::history::verify_with_event(&state()?, &ctx, &granted, &meta()?).await?;
            leptos_axum::redirect("/access-history?verified=1");
            Ok(report)
        }
        .await,
    )
}

/// Sets how many days events are kept (admins, step-up).
#[server(prefix = "/api", endpoint = "set_history_retention")]
pub async fn set_history_retention(days: String, reason: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let days = days.trim().parse().map_err(|_| AppError::validation("days", "Enter a number of days."))?;
            crate::backend::audit::retention::check_days(days)?;
            let now = st.clock.now_ms();
            let meta = meta()?;
            let act = crate::backend::approvals::Act::Retention { days };
            match crate::backend::approvals::gate(&st, &ctx, &meta, act, reason.as_deref()).await? {
                crate::backend::approvals::Gate::Go(cleared) => {
                    crate::backend::audit::retention::set_retention_days(
                        &st.pool, &st.keys, now, &ctx, &admin, &meta, days, &cleared,
                    )
                    .await?;
                    leptos_axum::redirect("/access-history?retention=saved");
                }
                crate::backend::approvals::Gate::Waiting(_) => leptos_axum::redirect("/settings/approvals?requested=1"),
            }
            Ok(())
        }
        .await,
    )
}

/// The organisation's chain key, for verifying an export offline (owners, step-up).
#[server(prefix = "/api", endpoint = "reveal_chain_key")]
pub async fn reveal_chain_key() -> Result<ChainKeyView, AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::audit::history::reveal_chain_key(&st, &ctx, &owner, &proof, &meta()?).await
        }
        .await,
    )
}

/// The organisation's 50 newest events (the machine-readable short list; the page uses `get_history`).
#[server(prefix = "/api", endpoint = "list_recent_events")]
pub async fn list_recent_events() -> Result<Vec<crate::model::AuditEventView>, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::AccessHistory>()?;
            crate::backend::audit::list_latest(&state()?.pool, &ctx, &granted, 50).await
        }
        .await,
    )
}
