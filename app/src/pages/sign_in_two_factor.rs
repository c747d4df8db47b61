//! `/sign-in/two-factor`: the second sign-in step, a code from the authenticator app or a recovery code.
//! Reachable only in the 5 minutes after a correct password, from the same browser.

use crate::api::auth::{get_pending_sign_in, VerifySecondFactor};
use crate::components::{AuthPage, ErrorNotice, Hydrated};
use crate::model::AppError;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInTwoFactorPage() -> impl IntoView {
    let pending = Resource::new(|| (), |_| get_pending_sign_in());
    let action = ServerAction::<VerifySecondFactor>::new();
    view! {
        <Title text="Two-factor authentication · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Two-factor authentication"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match pending.await {
                        Ok(p) => Either::Left(view! {
                            <p>"Signing in to " <strong>{p.tenant_name}</strong> " as " <strong class="email">{p.email}</strong> "."</p>
                            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
                            <ActionForm action=action attr:class="form" attr:aria-label="Two-factor authentication">
                                <div class="field">
                                    <label for="code">"Authentication code"</label>
                                    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                                        required maxlength="32" spellcheck="false" autocapitalize="off" aria-describedby="code-hint"/>
                                    <p class="hint" id="code-hint">
                                        "The 6-digit code from your authenticator app. Lost your phone? Enter one of your recovery codes instead."
                                    </p>
                                </div>
                                <button type="submit" disabled=move || action.pending().get()>"Verify"</button>
                            </ActionForm>
                            <p><a href="/sign-in">"Cancel and start again"</a></p>
                        }),
                        Err(AppError::Unauthenticated) => Either::Right(Either::Left(view! {
                            <p class="notice error" role="alert">
                                "Your sign-in timed out or was not started in this browser. "
                                <a href="/sign-in">"Sign in again"</a> "."
                            </p>
                        })),
                        Err(e) => Either::Right(Either::Right(view! { <ErrorNotice error=e/> })),
                    }
                })}
            </Suspense>
        </AuthPage>
    }
}
