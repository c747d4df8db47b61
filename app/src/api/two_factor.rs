//! Two-factor authentication: enrollment, recovery codes, switching it off.

use crate::model::{AppError, RecoveryCodesView, TotpEnrollmentView};
use leptos::prelude::*;

/// Starts (or resumes) enrolling an authenticator, for a signed-in member or a browser sent to enrollment at
/// sign-in.
#[server(prefix = "/api", endpoint = "start_two_factor_enrollment")]
pub async fn start_two_factor_enrollment() -> Result<TotpEnrollmentView, AppError> {
    use super::ssr::{enrollment_actor, finish, session, state};
    use crate::backend::identity::sessions;
    finish(
        async {
            let (ctx, _) = enrollment_actor().await?;
            let session = session()?;
            let started = sessions::enrolling(&session).await?;
            let (view, mark) =
                crate::backend::identity::two_factor::start_enrollment(&state()?, &ctx, started.as_deref()).await?;
            if started.as_deref() != Some(mark.as_str()) {
                sessions::note_enrolling(&session, mark).await?;
            }
            Ok(view)
        }
        .await,
    )
}

/// Confirms enrollment with a first code. A browser that was sent here at sign-in is now signed in. The new
/// recovery codes wait, sealed, in the session for the page that shows them once.
#[server(prefix = "/api", endpoint = "confirm_two_factor_enrollment")]
pub async fn confirm_two_factor_enrollment(code: String) -> Result<(), AppError> {
    use super::ssr::{enrollment_actor, finish, meta, remember_device, session, state};
    use crate::backend::{identity::auth, identity::sessions, identity::two_factor};
    finish(
        async {
            let st = state()?;
            let meta = meta()?;
            let session = session()?;
            let (ctx, was_pending) = enrollment_actor().await?;
            let codes = two_factor::confirm_enrollment(&st, &meta, &ctx, &code).await?;
            if was_pending {
                auth::complete_sign_in(&st, &meta, &ctx, "password+totp enrollment").await?;
                remember_device(&st, &ctx, &meta).await;
                sessions::establish(&session, ctx.clone(), st.clock.now_ms(), &meta).await?;
            }
            let sealed = st.keys.seal(ctx.account_id().as_str().as_bytes(), codes.join("\n").as_bytes())?;
            sessions::stash_fresh_codes(&session, sealed).await?;
            leptos_axum::redirect("/two-factor/recovery-codes");
            Ok(())
        }
        .await,
    )
}

/// The recovery codes made a moment ago (once: a second call gets none) and how many are left.
#[server(prefix = "/api", endpoint = "get_recovery_codes")]
pub async fn get_recovery_codes() -> Result<RecoveryCodesView, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, identity::two_factor};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let fresh = match sessions::take_fresh_codes(&session()?).await? {
                Some((key_id, sealed)) => {
                    let bytes = st.keys.open(&key_id, ctx.account_id().as_str().as_bytes(), &sealed)?;
                    String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
                }
                None => Vec::new(),
            };
            let mut conn = st.pool.acquire().await?;
            let left = two_factor::recovery_codes_left(&mut conn, ctx.account_id()).await?;
            Ok(RecoveryCodesView { fresh, left })
        }
        .await,
    )
}

/// Replaces the recovery codes with a new set (step-up required) and shows them once.
#[server(prefix = "/api", endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, identity::two_factor};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let session = session()?;
            let proof = sessions::require_step_up(&session, st.clock.now_ms()).await?;
            let codes = two_factor::regenerate_recovery_codes(&st, &meta()?, &ctx, &proof).await?;
            let sealed = st.keys.seal(ctx.account_id().as_str().as_bytes(), codes.join("\n").as_bytes())?;
            sessions::stash_fresh_codes(&session, sealed).await?;
            leptos_axum::redirect("/two-factor/recovery-codes");
            Ok(())
        }
        .await,
    )
}

/// Switches two-factor authentication off (step-up required; refused while the organisation requires it).
#[server(prefix = "/api", endpoint = "disable_two_factor")]
pub async fn disable_two_factor() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, identity::two_factor};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let proof = sessions::require_step_up(&session()?, st.clock.now_ms()).await?;
            two_factor::disable(&st, &meta()?, &ctx, &proof).await?;
            leptos_axum::redirect("/security?two_factor=off");
            Ok(())
        }
        .await,
    )
}
