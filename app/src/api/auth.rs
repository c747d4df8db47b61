//! Sign-in, sign-out, the setup link, and who is signed in.

use crate::model::{AppError, Me, SetupInfo};
use leptos::prelude::*;

/// The signed-in account in its current tenant.
#[server(prefix = "/api", endpoint = "get_me")]
pub async fn get_me() -> Result<Me, AppError> {
    use super::ssr::{finish, tenant_ctx};
    finish(tenant_ctx().map(|ctx| Me { email: ctx.email, tenant_name: ctx.tenant_name, role: ctx.role }))
}

/// Signs in with email and password; on success the session id is cycled and the browser goes to the
/// overview.
#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state};
    use crate::backend::{auth, sessions};
    finish(
        async {
            let st = state()?;
            let session = session()?;
            let password = secrecy::SecretString::from(password);
            let ctx = auth::sign_in(&st, &meta()?, &email, &password).await?;
            sessions::establish(&session, ctx, st.clock.now_ms()).await?;
            leptos_axum::redirect("/overview");
            Ok(())
        }
        .await,
    )
}

/// Signs out: the session is deleted server-side and the browser told to drop its cookies.
#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{auth, sessions};
    finish(
        async {
            let st = state()?;
            if let Ok(ctx) = tenant_ctx() {
                auth::record_sign_out(&st, &ctx, &meta()?).await?;
            }
            sessions::end(&session()?).await?;
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.insert_header(
                    http::HeaderName::from_static("clear-site-data"),
                    http::HeaderValue::from_static("\"cookies\""),
                );
            }
            leptos_axum::redirect("/sign-in?signed_out=1");
            Ok(())
        }
        .await,
    )
}

/// What the setup page shows for a link; not found when the link is unknown, used or expired.
#[server(prefix = "/api", endpoint = "get_setup_info")]
pub async fn get_setup_info(token: String) -> Result<SetupInfo, AppError> {
    use super::ssr::{finish, state};
    finish(async { crate::backend::auth::setup_info(&state()?, &token).await }.await)
}

/// Sets the first password from a setup link, then sends the owner to sign in.
#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(token: String, password: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state};
    finish(
        async {
            let password = secrecy::SecretString::from(password);
            crate::backend::auth::complete_setup(&state()?, &meta()?, &token, &password).await?;
            leptos_axum::redirect("/sign-in?setup=done");
            Ok(())
        }
        .await,
    )
}
