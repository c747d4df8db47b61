//! Webhook endpoints from the console (owners and admins; adding or removing one needs a step-up).

use crate::model::{AppError, FreshWebhookSecret, WebhookDeliveriesView, WebhooksView};
use leptos::prelude::*;

/// The organisation's endpoints.
#[server(prefix = "/api", endpoint = "list_webhooks")]
pub async fn list_webhooks() -> Result<WebhooksView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::webhooks::endpoints::list(&state()?, &ctx, &admin).await
        }
        .await,
    )
}

/// Adds an endpoint; its secret is shown once on the page that follows.
#[server(prefix = "/api", endpoint = "create_webhook")]
pub async fn create_webhook(url: String, description: Option<String>, events: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let session = session()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session, st.clock.now_ms()).await?;
            let description = description.unwrap_or_default();
            let fresh = crate::backend::webhooks::endpoints::create(
                &st,
                &ctx,
                &admin,
                &proof,
                &meta()?,
                &url,
                &description,
                &events,
            )
            .await?;
            crate::backend::webhooks::endpoints::stash_fresh(&st, &session, &ctx, &fresh).await?;
            leptos_axum::redirect("/settings/webhooks?created=1");
            Ok(())
        }
        .await,
    )
}

/// The secret of the endpoint just added, once; `None` afterwards.
#[server(prefix = "/api", endpoint = "take_fresh_webhook_secret")]
pub async fn take_fresh_webhook_secret() -> Result<Option<FreshWebhookSecret>, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            ctx.require_admin()?;
            crate::backend::webhooks::endpoints::take_fresh(&state()?, &session()?, &ctx).await
        }
        .await,
    )
}

/// Removes an endpoint (its pending deliveries are dropped).
#[server(prefix = "/api", endpoint = "delete_webhook")]
pub async fn delete_webhook(webhook_id: String, reason: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let meta = meta()?;
            let act = crate::backend::approvals::Act::DeleteWebhook { webhook_id: webhook_id.clone() };
            match crate::backend::approvals::gate(&st, &ctx, &meta, act, reason.as_deref()).await? {
                crate::backend::approvals::Gate::Go(cleared) => {
                    crate::backend::webhooks::endpoints::delete(
                        &st,
                        &ctx,
                        &admin,
                        &proof,
                        &cleared,
                        &meta,
                        &webhook_id,
                    )
                    .await?;
                    leptos_axum::redirect("/settings/webhooks?deleted=1");
                }
                crate::backend::approvals::Gate::Waiting(_) => leptos_axum::redirect("/settings/approvals?requested=1"),
            }
            Ok(())
        }
        .await,
    )
}

/// Gives an endpoint a new secret, shown once; the old one signs beside it for `overlap_hours`.
#[server(prefix = "/api", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(webhook_id: String, overlap_hours: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let session = session()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session, st.clock.now_ms()).await?;
            let hours = overlap_hours
                .trim()
                .parse()
                .map_err(|_| AppError::validation("overlap_hours", "Give a whole number of hours."))?;
            let fresh =
                crate::backend::webhooks::endpoints::rotate(&st, &ctx, &admin, &proof, &meta()?, &webhook_id, hours)
                    .await?;
            crate::backend::webhooks::endpoints::stash_fresh(&st, &session, &ctx, &fresh).await?;
            leptos_axum::redirect("/settings/webhooks?created=1");
            Ok(())
        }
        .await,
    )
}

/// Sends a test event to an endpoint.
#[server(prefix = "/api", endpoint = "send_webhook_test")]
pub async fn send_webhook_test(webhook_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::webhooks::endpoints::send_test(&state()?, &ctx, &admin, &meta()?, &webhook_id).await?;
            leptos_axum::redirect("/settings/webhooks?tested=1");
            Ok(())
        }
        .await,
    )
}

/// One endpoint with its latest deliveries and every attempt.
#[server(prefix = "/api", endpoint = "get_webhook_deliveries")]
pub async fn get_webhook_deliveries(webhook_id: String) -> Result<WebhookDeliveriesView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::webhooks::history::deliveries(&state()?, &ctx, &admin, &webhook_id).await
        }
        .await,
    )
}

/// Sends a delivery again, with the same `webhook-id`.
#[server(prefix = "/api", endpoint = "redeliver_webhook")]
pub async fn redeliver_webhook(webhook_id: String, delivery_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::webhooks::history::redeliver(&state()?, &ctx, &admin, &meta()?, &webhook_id, &delivery_id)
                .await?;
            leptos_axum::redirect(&format!("/settings/webhooks/{webhook_id}?redelivered=1"));
            Ok(())
        }
        .await,
    )
}

/// Enables (`enabled` = "true") or disables an endpoint.
#[server(prefix = "/api", endpoint = "set_webhook_enabled")]
pub async fn set_webhook_enabled(webhook_id: String, enabled: String, reason: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let on = match enabled.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(AppError::validation("enabled", "Say true or false.")),
            };
            let meta = meta()?;
            let act = crate::backend::approvals::Act::WebhookEnabled { webhook_id: webhook_id.clone(), on };
            match crate::backend::approvals::gate(&st, &ctx, &meta, act, reason.as_deref()).await? {
                crate::backend::approvals::Gate::Go(cleared) => {
                    crate::backend::webhooks::endpoints::set_enabled(
                        &st,
                        &ctx,
                        &admin,
                        &proof,
                        &cleared,
                        &meta,
                        &webhook_id,
                        on,
                    )
                    .await?;
                    leptos_axum::redirect(&format!("/settings/webhooks/{webhook_id}"));
                }
                crate::backend::approvals::Gate::Waiting(_) => leptos_axum::redirect("/settings/approvals?requested=1"),
            }
            Ok(())
        }
        .await,
    )
}
