//! API keys from the console: list, create (secret shown once), change guardrails, roll with grace, end the
//! grace, revoke, the tenant's key policy, and the REST API's reference.
#![allow(clippy::too_many_arguments)]

use crate::model::{ApiReferenceView, AppError, FreshKeyView, KeyDetailView, KeysView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod form {
    //! Reading the keys forms' text fields.

    use crate::backend::keys::KeyInput;
    use crate::model::{Access, ApiResource, AppError, Scopes};

    /// An optional whole number: empty means none.
    pub fn number(field: &str, v: Option<&str>) -> Result<Option<i64>, AppError> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| AppError::validation(field, "Enter a whole number.")),
        }
    }

    fn access(field: &str, v: Option<&str>) -> Result<Access, AppError> {
        match v.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Access::None),
            Some(s) => Access::parse(s).ok_or_else(|| AppError::validation(field, "Choose none, read or write.")),
        }
    }

    pub fn input(
        description: String,
        expires_in_days: Option<String>,
        allowed_ips: Option<String>,
        allowed_referers: Option<String>,
        rate_per_hour: Option<String>,
        scope_members: Option<String>,
        scope_access_history: Option<String>,
        scope_vault: Option<String>,
    ) -> Result<KeyInput, AppError> {
        Ok(KeyInput {
            description,
            expires_in_days: number("expires_in_days", expires_in_days.as_deref())?,
            allowed_ips: allowed_ips.unwrap_or_default(),
            allowed_referers: allowed_referers.unwrap_or_default(),
            rate_per_hour: number("rate_per_hour", rate_per_hour.as_deref())?,
            scopes: Scopes(vec![
                (ApiResource::Members, access("scope_members", scope_members.as_deref())?),
                (ApiResource::AccessHistory, access("scope_access_history", scope_access_history.as_deref())?),
                (ApiResource::Vault, access("scope_vault", scope_vault.as_deref())?),
            ]),
            looks_like: None,
            machines_only: false,
        })
    }
}

/// The keys page's data.
#[server(prefix = "/api", endpoint = "get_keys")]
pub async fn get_keys() -> Result<KeysView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            crate::backend::keys::list_keys(&state()?, &ctx, &granted).await
        }
        .await,
    )
}

/// One key's page: guardrails and where its secrets are used from.
#[server(prefix = "/api", endpoint = "get_key")]
pub async fn get_key(key_id: String) -> Result<KeyDetailView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            crate::backend::keys::get_key(&state()?, &ctx, &granted, &key_id).await
        }
        .await,
    )
}

/// Creates a key; the keys page then shows its secret, once. A master key needs a step-up.
#[server(prefix = "/api", endpoint = "create_key")]
pub async fn create_key(
    kind: String,
    description: String,
    expires_in_days: Option<String>,
    allowed_ips: Option<String>,
    allowed_referers: Option<String>,
    rate_per_hour: Option<String>,
    scope_members: Option<String>,
    scope_access_history: Option<String>,
    scope_vault: Option<String>,
    looks_like: Option<String>,
    reason: Option<String>,
    machines_only: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, keys};
    use crate::model::KeyKind;
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            let session = session()?;
            let kind = KeyKind::parse(&kind).ok_or_else(|| AppError::validation("kind", "Choose a kind of key."))?;
            let mut input = form::input(
                description,
                expires_in_days,
                allowed_ips,
                allowed_referers,
                rate_per_hour,
                scope_members,
                scope_access_history,
                scope_vault,
            )?;
            input.looks_like = looks_like.as_deref().and_then(KeyKind::parse);
            input.machines_only = machines_only.is_some();
            let proof = sessions::require_step_up(&session, st.clock.now_ms()).await.ok();
            let meta = meta()?;
            // A master key may need a second admin's approval (a step-up comes first, as for any master key).
            let cleared = if kind == KeyKind::Master {
                let Some(_) = proof.as_ref() else { return Err(AppError::StepUpRequired) };
                keys::precheck(&st, &ctx, &granted, proof.as_ref(), kind, &input).await?;
                let act = crate::backend::approvals::Act::MasterKey { input: input.clone() };
                match crate::backend::approvals::gate(&st, &ctx, &meta, act, reason.as_deref()).await? {
                    crate::backend::approvals::Gate::Go(c) => Some(c),
                    crate::backend::approvals::Gate::Waiting(_) => {
                        leptos_axum::redirect("/settings/approvals?requested=1");
                        return Ok(());
                    }
                }
            } else {
                None
            };
            let (_, fresh) =
                keys::create_key(&st, &meta, &ctx, &granted, proof.as_ref(), cleared.as_ref(), kind, &input).await?;
            keys::stash_fresh(&st, &session, &ctx, &fresh).await?;
            leptos_axum::redirect("/keys?created=1");
            Ok(())
        }
        .await,
    )
}

/// The secret made by the last create or roll, once; `None` afterwards.
#[server(prefix = "/api", endpoint = "take_fresh_key")]
pub async fn take_fresh_key() -> Result<Option<FreshKeyView>, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            crate::backend::keys::take_fresh(&state()?, &session()?, &ctx).await
        }
        .await,
    )
}

/// Changes a key's description and guardrails (step-up).
#[server(prefix = "/api", endpoint = "update_key")]
pub async fn update_key(
    key_id: String,
    description: String,
    expires_in_days: Option<String>,
    allowed_ips: Option<String>,
    allowed_referers: Option<String>,
    rate_per_hour: Option<String>,
    scope_members: Option<String>,
    scope_access_history: Option<String>,
    scope_vault: Option<String>,
    machines_only: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let mut input = form::input(
                description,
                expires_in_days,
                allowed_ips,
                allowed_referers,
                rate_per_hour,
                scope_members,
                scope_access_history,
                scope_vault,
            )?;
            input.machines_only = machines_only.is_some();
            crate::backend::keys::update_key(&st, &meta()?, &ctx, &granted, &proof, &key_id, &input).await?;
            leptos_axum::redirect(&format!("/keys/{}?saved=1", key_id));
            Ok(())
        }
        .await,
    )
}

/// Issues a new secret; the old one works for `grace_seconds` more (0 to 30 days).
#[server(prefix = "/api", endpoint = "roll_key")]
pub async fn roll_key(key_id: String, grace_seconds: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            let grace: i64 = grace_seconds
                .trim()
                .parse()
                .map_err(|_| AppError::validation("grace_seconds", "Choose how long the old secret keeps working."))?;
            let grace_ms = grace.checked_mul(1000).unwrap_or(-1);
            let fresh = crate::backend::keys::roll_key(&st, &meta()?, &ctx, &granted, &key_id, grace_ms).await?;
            crate::backend::keys::stash_fresh(&st, &session()?, &ctx, &fresh).await?;
            leptos_axum::redirect(&format!("/keys/{}?rolled=1", fresh.key_id));
            Ok(())
        }
        .await,
    )
}

/// Stops the old secret now.
#[server(prefix = "/api", endpoint = "end_key_grace")]
pub async fn end_key_grace(key_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            crate::backend::keys::end_grace(&state()?, &meta()?, &ctx, &granted, &key_id).await?;
            leptos_axum::redirect(&format!("/keys/{}", key_id));
            Ok(())
        }
        .await,
    )
}

/// Revokes a key at once.
#[server(prefix = "/api", endpoint = "revoke_key")]
pub async fn revoke_key(key_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            crate::backend::keys::revoke_key(&state()?, &meta()?, &ctx, &granted, &key_id).await?;
            leptos_axum::redirect(&format!("/keys/{}", key_id));
            Ok(())
        }
        .await,
    )
}

/// Changes the tenant's key policy (owner or admin, step-up).
#[server(prefix = "/api", endpoint = "set_key_policy")]
pub async fn set_key_policy(
    max_age_days: String,
    disable_unused_days: Option<String>,
    security_contact: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            let policy = crate::model::KeyPolicyView {
                max_age_days: form::number("max_age_days", Some(&max_age_days))?
                    .ok_or_else(|| AppError::validation("max_age_days", "Enter the maximum age in days."))?,
                disable_unused_days: form::number("disable_unused_days", disable_unused_days.as_deref())?,
                security_contact: security_contact.unwrap_or_default(),
            };
            crate::backend::keys::set_policy(&st, &meta()?, &ctx, &admin, &proof, &policy).await?;
            leptos_axum::redirect("/keys?policy=saved");
            Ok(())
        }
        .await,
    )
}

/// The REST API's reference (any signed-in member may read it).
#[server(prefix = "/api", endpoint = "get_api_reference")]
pub async fn get_api_reference() -> Result<ApiReferenceView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            tenant_ctx()?;
            Ok((*state()?.api_reference).clone())
        }
        .await,
    )
}
