//! `/forgot-password`: ask for a reset link by email. The answer never tells whether the email is known.

use crate::api::auth::RequestPasswordReset;
use crate::components::{AuthPage, ErrorNotice, Hydrated};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some() || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Title text="Reset your password · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Reset your password"</h1>
            {move || sent().then(|| view! {
                <p class="notice ok" role="status">
                    "If an account uses that email, a reset link is on its way. It works once, for 30 minutes."
                </p>
            })}
            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <ActionForm action=action attr:class="form" attr:aria-label="Reset your password">
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"/>
                </div>
                <button type="submit" disabled=move || action.pending().get()>"Send reset link"</button>
            </ActionForm>
            <p><a href="/sign-in">"Back to sign in"</a></p>
        </AuthPage>
    }
}
