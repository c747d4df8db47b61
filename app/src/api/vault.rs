//! The encrypted vault from the console: listing and search, one file with its versions and links, the bin,
//! restoring a version, ephemeral links (shown once), and the tenant data key's rotation (admin, step-up).
//! Uploads and downloads are plain HTTP routes beside these (`server/src/web/vault.rs`): they stream.
#![allow(clippy::too_many_arguments)]

use crate::model::{AppError, FreshLinkView, VaultFileDetailView, VaultKeyView, VaultListView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ssr {
    //! Where the vault's acts send the browser afterwards.

    /// Percent-encodes a query value (unreserved characters and `/` stay as they are).
    pub fn encode(v: &str) -> String {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    /// A file's page.
    pub fn file_page(id: &str, query: &str) -> String {
        format!("/vault/files/{}{query}", encode(id))
    }
}

/// A folder's listing, or a search (name, size, dates) under it; `deleted` lists the bin.
#[server(prefix = "/api", endpoint = "list_vault")]
pub async fn list_vault(
    folder: Option<String>,
    q: Option<String>,
    min_size: Option<String>,
    max_size: Option<String>,
    from: Option<String>,
    to: Option<String>,
    deleted: Option<String>,
) -> Result<VaultListView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    use crate::backend::vault::list::{list, VaultQuery};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultRead>()?;
            let query = VaultQuery { folder, q, min_size, max_size, from, to, deleted };
            list(&state()?, &ctx, &granted, &query).await
        }
        .await,
    )
}

/// One file with its versions and links.
#[server(prefix = "/api", endpoint = "get_vault_file")]
pub async fn get_vault_file(file_id: String) -> Result<VaultFileDetailView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultRead>()?;
            crate::backend::vault::list::detail(&state()?, &ctx, &granted, &file_id).await
        }
        .await,
    )
}

/// Moves a file to the bin; back to its folder.
#[server(prefix = "/api", endpoint = "delete_vault_file")]
pub async fn delete_vault_file(file_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    use ssr::encode;
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultWrite>()?;
            let f = crate::backend::vault::manage::delete(&state()?, &ctx, &granted, &meta()?, &file_id).await?;
            let notice = format!("{} was moved to the bin.", f.name);
            leptos_axum::redirect(&format!("/vault?folder={}&notice={}", encode(&f.folder), encode(&notice)));
            Ok(())
        }
        .await,
    )
}

/// Takes a file out of the bin; back to its folder.
#[server(prefix = "/api", endpoint = "undelete_vault_file")]
pub async fn undelete_vault_file(file_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    use ssr::encode;
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultWrite>()?;
            let f = crate::backend::vault::manage::undelete(&state()?, &ctx, &granted, &meta()?, &file_id).await?;
            let notice = format!("{} was restored.", f.name);
            leptos_axum::redirect(&format!("/vault?folder={}&notice={}", encode(&f.folder), encode(&notice)));
            Ok(())
        }
        .await,
    )
}

/// Makes an older version current again (stored as a new version).
#[server(prefix = "/api", endpoint = "restore_vault_version")]
pub async fn restore_vault_version(file_id: String, version_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultWrite>()?;
            let st = state()?;
            crate::backend::vault::manage::restore_version(&st, &ctx, &granted, &meta()?, &file_id, &version_id)
                .await?;
            leptos_axum::redirect(&ssr::file_page(&file_id, "?restored=1"));
            Ok(())
        }
        .await,
    )
}

/// Mints an ephemeral link; the file's page then shows its URL, once. `minutes` is its lifetime,
/// `version_id` empty for "whatever is current when it is used".
#[server(prefix = "/api", endpoint = "create_vault_link")]
pub async fn create_vault_link(
    file_id: String,
    minutes: Option<String>,
    single_use: Option<String>,
    version_id: Option<String>,
) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::vault::links;
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultRead>()?;
            let minutes = match minutes.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
                None => None,
                Some(m) => Some(
                    m.parse::<i64>().map_err(|_| AppError::validation("minutes", "Choose how long the link lives."))?,
                ),
            };
            let request = links::LinkRequest { version_id, minutes, single_use: single_use.is_some() };
            let fresh = links::create(&st, &ctx, &granted, &meta()?, &file_id, &request).await?;
            links::stash_fresh(&st, &session()?, &ctx, &file_id, &fresh).await?;
            leptos_axum::redirect(&ssr::file_page(&file_id, "?link=1"));
            Ok(())
        }
        .await,
    )
}

/// The link just minted for this file, once; `None` afterwards.
#[server(prefix = "/api", endpoint = "take_fresh_vault_link")]
pub async fn take_fresh_vault_link(file_id: String) -> Result<Option<FreshLinkView>, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            ctx.require::<crate::backend::access::perm::VaultRead>()?;
            crate::backend::vault::links::take_fresh(&state()?, &session()?, &ctx, &file_id).await
        }
        .await,
    )
}

/// Revokes a link at once; back to its file.
#[server(prefix = "/api", endpoint = "revoke_vault_link")]
pub async fn revoke_vault_link(file_id: String, link_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let granted = ctx.require::<crate::backend::access::perm::VaultRead>()?;
            crate::backend::vault::links::revoke(&state()?, &ctx, &granted, &meta()?, &link_id).await?;
            leptos_axum::redirect(&ssr::file_page(&file_id, "?revoked=1"));
            Ok(())
        }
        .await,
    )
}

/// The tenant data key and its rotation (owners and admins).
#[server(prefix = "/api", endpoint = "get_vault_key")]
pub async fn get_vault_key() -> Result<VaultKeyView, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            crate::backend::vault::rotation::status(&state()?, &ctx, &admin).await
        }
        .await,
    )
}

/// Starts re-encrypting every file under a new tenant data key (owners and admins, step-up).
#[server(prefix = "/api", endpoint = "rotate_vault_key")]
pub async fn rotate_vault_key() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = crate::backend::identity::sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            crate::backend::vault::rotation::start(&st, &ctx, &admin, &proof, &meta()?).await?;
            leptos_axum::redirect("/vault/key?rotating=1");
            Ok(())
        }
        .await,
    )
}
