//! `/setup/:token`: a new owner sets their password from the one-time link.

use crate::api::auth::{get_setup_info, CompleteSetup};
use crate::components::{AuthPage, ErrorNotice, Hydrated, PasswordField};
use crate::model::AppError;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn SetupPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, get_setup_info);
    let action = ServerAction::<CompleteSetup>::new();
    view! {
        <Title text="Set your password · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Set your password"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(info) => Either::Left(view! {
                            <p>
                                "Your account at " <strong>{info.tenant_name}</strong> " is "
                                <strong class="email">{info.email.clone()}</strong> ". Choose the password you will sign in with."
                            </p>
                            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
                            <ActionForm action=action attr:class="form" attr:aria-label="Set your password">
                                <input type="hidden" name="token" value=token()/>
                                <input type="email" name="username" value=info.email autocomplete="username" hidden readonly/>
                                <PasswordField
                                    id="password"
                                    name="password"
                                    label="New password"
                                    autocomplete="new-password"
                                    hint=format!(
                                        "At least {} characters. A few unrelated words make a strong, memorable password. \
                                         Common passwords and your email or organisation name are refused.",
                                        info.policy.min_chars,
                                    )
                                />
                                <button type="submit" disabled=move || action.pending().get()>"Set password"</button>
                            </ActionForm>
                        }),
                        Err(AppError::NotFound) => Either::Right(Either::Left(view! {
                            <p class="notice error" role="alert">
                                "This link is invalid, expired or already used. Ask your administrator for a new one."
                            </p>
                        })),
                        Err(e) => Either::Right(Either::Right(view! { <ErrorNotice error=e/> })),
                    }
                })}
            </Suspense>
        </AuthPage>
    }
}
