//! `/reset-password/:token`: set a new password from an emailed link. The second factor is still asked at the
//! next sign-in.

use crate::api::auth::{get_reset_info, CompletePasswordReset};
use crate::components::{AuthPage, ErrorNotice, Hydrated, PasswordField};
use crate::model::AppError;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, get_reset_info);
    let action = ServerAction::<CompletePasswordReset>::new();
    view! {
        <Title text="Choose a new password · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Choose a new password"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => Either::Left(view! {
                            <p>"For " <strong class="email">{info.email.clone()}</strong> " (" {info.tenant_name} ")."</p>
                            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
                            <ActionForm action=action attr:class="form" attr:aria-label="Password reset">
                                <input type="hidden" name="token" value=token()/>
                                <input type="email" name="username" value=info.email autocomplete="username" hidden readonly/>
                                <PasswordField id="password" name="password" label="New password" autocomplete="new-password"
                                    hint=format!("At least {} characters. Common passwords and your email or organisation name are refused.", info.policy.min_chars)/>
                                <button type="submit" disabled=move || action.pending().get()>"Set new password"</button>
                            </ActionForm>
                        }),
                        Err(AppError::NotFound) => Either::Right(Either::Left(view! {
                            <p class="notice error" role="alert">
                                "This link is invalid, expired or already used. " <a href="/forgot-password">"Ask for a new one"</a> "."
                            </p>
                        })),
                        Err(e) => Either::Right(Either::Right(view! { <ErrorNotice error=e/> })),
                    }
                })}
            </Suspense>
        </AuthPage>
    }
}
