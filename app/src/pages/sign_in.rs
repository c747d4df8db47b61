//! `/sign-in`: email and password. Works without JavaScript: the form posts, and an error comes back in the
//! redirect and is shown here.

use crate::api::auth::SignIn;
use crate::components::{AuthPage, ErrorNotice, Hydrated, PasswordField};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("setup").is_some() {
            Some("Your password is set. Sign in with it now.")
        } else if q.get("joined").is_some() {
            Some("Your account is ready. Sign in to start.")
        } else if q.get("reset").is_some() {
            Some("Your password is set and every session was signed out. Sign in with the new password.")
        } else if q.get("signed_out").is_some() {
            Some("You are signed out.")
        } else {
            None
        }
    };
    view! {
        <Title text="Sign in · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Sign in to Rampart"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <ActionForm action=action attr:class="form" attr:aria-label="Sign in">
                <div class="field">
                    <label for="email">"Email"</label>
                    <input id="email" name="email" type="email" autocomplete="username" required maxlength="254"/>
                </div>
                <PasswordField id="password" name="password" label="Password" autocomplete="current-password"/>
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
            <p><a href="/forgot-password">"Forgot your password?"</a></p>
        </AuthPage>
    }
}
