//! Sign-in, sign-out, the setup link, and who is signed in.

use crate::model::{AppError, Me, PendingView, SetupInfo};
use leptos::prelude::*;

/// The signed-in account in its current tenant.
#[server(prefix = "/api", endpoint = "get_me")]
pub async fn get_me() -> Result<Me, AppError> {
    use super::ssr::{finish, state, tenant_ctx_while_closing};
    finish(
        async {
            let ctx = tenant_ctx_while_closing()?;
            let support = match ctx.support_request() {
                Some(request) => {
                    let reach = crate::backend::support::session::reach(&state()?, request)
                        .await?
                        .ok_or(AppError::Unauthenticated)?;
                    let who = ctx.actor().trim_start_matches("Support: ");
                    Some(format!(
                        "Support access by {who} until {}: read-only, every page viewed is recorded.",
                        crate::model::format_utc(reach.until)
                    ))
                }
                None => None,
            };
            Ok(Me {
                features: ctx.features(),
                is_admin: ctx.is_admin(),
                email: ctx.actor().to_owned(),
                tenant_name: ctx.tenant_name().to_owned(),
                role: if support.is_some() { "support (read-only)".to_owned() } else { ctx.role_name().to_owned() },
                tenant_count: ctx.tenant_count(),
                support,
            })
        }
        .await,
    )
}

/// Signs in with email and password. Without two-factor authentication the session id is cycled and the
/// browser goes to the overview; otherwise it goes to the second-factor (or enrollment) form.
#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use super::ssr::{device_cookie, finish, meta, remember_device, session, state};
    use crate::backend::identity::auth::{self, SignInNext};
    use crate::backend::identity::sessions::{self, PendingStage};
    finish(
        async {
            let st = state()?;
            let session = session()?;
            let password = secrecy::SecretString::from(password);
            let meta = meta()?;
            let accepted = auth::sign_in(&st, &meta, device_cookie().as_deref(), &email, &password).await?;
            let now = st.clock.now_ms();
            match accepted.next {
                SignInNext::Done => {
                    let choose = accepted.tenant_count > 1;
                    remember_device(&st, &accepted.ctx, &meta).await;
                    sessions::establish(&session, accepted.ctx, now, &meta).await?;
                    leptos_axum::redirect(if choose { "/organisations" } else { "/overview" });
                }
                SignInNext::SecondFactor => {
                    sessions::begin_pending(&session, accepted.ctx, PendingStage::SecondFactor, now).await?;
                    leptos_axum::redirect("/sign-in/two-factor");
                }
                SignInNext::Enroll => {
                    sessions::begin_pending(&session, accepted.ctx, PendingStage::Enroll, now).await?;
                    leptos_axum::redirect("/two-factor/setup");
                }
            }
            Ok(())
        }
        .await,
    )
}

/// The half-signed-in state of this browser, for the second-factor and enrollment pages.
#[server(prefix = "/api", endpoint = "get_pending_sign_in")]
pub async fn get_pending_sign_in() -> Result<PendingView, AppError> {
    use super::ssr::{finish, pending};
    use crate::backend::identity::sessions::{PendingStage, PENDING_TTL_MS};
    finish(
        async {
            let p = pending().await?.ok_or(AppError::Unauthenticated)?;
            Ok(PendingView {
                email: p.ctx.actor().to_owned(),
                tenant_name: p.ctx.tenant_name().to_owned(),
                stage: match p.stage {
                    PendingStage::SecondFactor => "second_factor".to_owned(),
                    PendingStage::Enroll => "enroll".to_owned(),
                },
                expires_at: p.started_at + PENDING_TTL_MS,
            })
        }
        .await,
    )
}

/// The second sign-in step: a TOTP code or a recovery code. On success the browser is signed in (new
/// session id) and goes to the overview.
#[server(prefix = "/api", endpoint = "verify_second_factor")]
pub async fn verify_second_factor(code: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, pending, remember_device, session, state};
    use crate::backend::identity::sessions::{self, PendingStage};
    use crate::backend::{identity::auth, identity::two_factor};
    finish(
        async {
            let st = state()?;
            let p = pending().await?.filter(|p| p.stage == PendingStage::SecondFactor);
            let Some(p) = p else {
                return Err(AppError::validation(
                    "code",
                    "Your sign-in timed out after 5 minutes. Enter your email and password again.",
                ));
            };
            let meta = meta()?;
            let proof = two_factor::verify(&st, &meta, &p.ctx, &code, "sign_in.second_factor").await?;
            let method = format!("password+{}", proof.as_str());
            auth::complete_sign_in(&st, &meta, &p.ctx, &method).await?;
            remember_device(&st, &p.ctx, &meta).await;
            sessions::establish(&session()?, p.ctx, st.clock.now_ms(), &meta).await?;
            leptos_axum::redirect("/overview");
            Ok(())
        }
        .await,
    )
}

/// Asks for a password-reset link by email. The answer is the same whether or not the email is known.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state};
    finish(
        async {
            crate::backend::identity::password_reset::request_reset(&state()?, &meta()?, &email).await?;
            leptos_axum::redirect("/forgot-password?sent=1");
            Ok(())
        }
        .await,
    )
}

/// What the reset page shows for a link; not found when the link is unknown, used or expired.
#[server(prefix = "/api", endpoint = "get_reset_info")]
pub async fn get_reset_info(token: String) -> Result<SetupInfo, AppError> {
    use super::ssr::{finish, state};
    finish(
        async {
            crate::backend::identity::auth::setup::link_info(
                &state()?,
                crate::backend::identity::tokens::Purpose::Reset,
                &token,
            )
            .await
        }
        .await,
    )
}

/// Sets a new password from a reset link, then sends the member to sign in (with the second factor).
#[server(prefix = "/api", endpoint = "complete_password_reset")]
pub async fn complete_password_reset(token: String, password: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state};
    finish(
        async {
            let password = secrecy::SecretString::from(password);
            crate::backend::identity::password_reset::complete_reset(&state()?, &meta()?, &token, &password).await?;
            leptos_axum::redirect("/sign-in?reset=done");
            Ok(())
        }
        .await,
    )
}

/// Signs out: the session is deleted server-side, its cookie expired and the browser's cache and storage for
/// the site cleared. The device cookie stays (Clear-Site-Data "cookies" would drop it): it is what keeps this
/// browser's own sign-in budget and spares its owner a new-device alert next time.
#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx_while_closing};
    use crate::backend::{identity::auth, identity::sessions};
    finish(
        async {
            let st = state()?;
            if let Ok(ctx) = tenant_ctx_while_closing() {
                auth::record_sign_out(&st, &ctx, &meta()?).await?;
            }
            sessions::end(&session()?).await?;
            if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
                res.insert_header(
                    http::HeaderName::from_static("clear-site-data"),
                    http::HeaderValue::from_static("\"cache\", \"storage\""),
                );
                res.append_header(
                    http::header::SET_COOKIE,
                    http::HeaderValue::from_static(
                        "__Host-rampart=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict",
                    ),
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
    finish(
        async {
            crate::backend::identity::auth::setup::link_info(
                &state()?,
                crate::backend::identity::tokens::Purpose::Setup,
                &token,
            )
            .await
        }
        .await,
    )
}

/// Sets the first password from a setup link, then sends the owner to sign in.
#[server(prefix = "/api", endpoint = "complete_setup")]
pub async fn complete_setup(token: String, password: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state};
    finish(
        async {
            let password = secrecy::SecretString::from(password);
            crate::backend::identity::auth::setup::complete_setup(&state()?, &meta()?, &token, &password).await?;
            leptos_axum::redirect("/sign-in?setup=done");
            Ok(())
        }
        .await,
    )
}

/// The organisations the signed-in account belongs to.
#[server(prefix = "/api", endpoint = "list_my_tenants")]
pub async fn list_my_tenants() -> Result<Vec<crate::model::TenantChoice>, AppError> {
    use super::ssr::{finish, state, tenant_ctx};
    finish(async { crate::backend::identity::organisations::list_tenants_of(&state()?, &tenant_ctx()?).await }.await)
}

/// Switches this session to another organisation of the account (new session id; the page reloads there).
#[server(prefix = "/api", endpoint = "switch_tenant")]
pub async fn switch_tenant(membership_id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, platform::ids::MembershipId};
    finish(
        async {
            let st = state()?;
            let ctx = tenant_ctx()?;
            let next = crate::backend::identity::organisations::switch_tenant(
                &st,
                &meta()?,
                &ctx,
                &MembershipId(membership_id),
            )
            .await?;
            sessions::switch_tenant(&session()?, next).await?;
            leptos_axum::redirect("/overview");
            Ok(())
        }
        .await,
    )
}
