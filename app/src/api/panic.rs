//! The panic button and its undo (owner, step-up), and unfreezing one key (admin, step-up).

use crate::model::{AppError, PanicView};
use leptos::prelude::*;

/// The emergency page's data (owners and admins).
#[server(prefix = "/api", endpoint = "get_panic")]
pub async fn get_panic() -> Result<PanicView, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let until = crate::backend::identity::sessions::step_up_valid_until(&session()?, st.clock.now_ms()).await?;
            crate::backend::organisation::panic::get_panic(&st, &ctx, &admin, until).await
        }
        .await,
    )
}

/// Presses the panic button: `keys` is `freeze` or `revoke`; `confirm` must be the word PANIC.
#[server(prefix = "/api", endpoint = "press_panic_button")]
pub async fn press_panic_button(keys: String, confirm: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, organisation::panic};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            let session = session()?;
            let proof = sessions::require_step_up(&session, st.clock.now_ms()).await?;
            let action = crate::model::PanicKeyAction::parse(keys.trim())
                .ok_or_else(|| AppError::validation("keys", "Choose whether to freeze or revoke the keys."))?;
            if confirm.trim() != "PANIC" {
                return Err(AppError::validation("confirm", "Type PANIC to confirm."));
            }
            let keep = sessions::current_id_hash(&session);
            panic::press(&st, &meta()?, &ctx, &owner, &proof, action, keep.as_deref()).await?;
            leptos_axum::redirect("/security/emergency?pressed=1");
            Ok(())
        }
        .await,
    )
}

/// Unfreezes every key the panic button froze.
#[server(prefix = "/api", endpoint = "undo_panic")]
pub async fn undo_panic() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, organisation::panic};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let owner = ctx.require_owner()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            panic::undo(&st, &meta()?, &ctx, &owner, &proof).await?;
            leptos_axum::redirect("/security/emergency?undone=1");
            Ok(())
        }
        .await,
    )
}

/// Unfreezes one key.
#[server(prefix = "/api", endpoint = "unfreeze_key")]
pub async fn unfreeze_key(key_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, organisation::panic};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            panic::unfreeze_key(&st, &meta()?, &ctx, &admin, &proof, &key_id).await?;
            leptos_axum::redirect(&format!("/keys/{key_id}?unfrozen=1"));
            Ok(())
        }
        .await,
    )
}
