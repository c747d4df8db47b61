//! `/two-factor/setup`: enroll an authenticator app. Reached from the security page, or straight after the
//! password when the organisation requires two-factor authentication and the member has none yet.

use crate::api::two_factor::{start_two_factor_enrollment, ConfirmTwoFactorEnrollment};
use crate::components::{AuthPage, ErrorNotice, Hydrated};
use crate::model::AppError;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TwoFactorSetupPage() -> impl IntoView {
    let enrollment = Resource::new(|| (), |_| start_two_factor_enrollment());
    let action = ServerAction::<ConfirmTwoFactorEnrollment>::new();
    view! {
        <Title text="Set up two-factor authentication · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Set up two-factor authentication"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match enrollment.await {
                        Ok(e) => Either::Left(view! {
                            <ol class="steps">
                                <li>"Open an authenticator app on your phone (for example Google Authenticator, Microsoft Authenticator, 1Password or Aegis)."</li>
                                <li>"Scan this QR code, or enter the key below by hand."</li>
                                <li>"Enter the 6-digit code the app shows."</li>
                            </ol>
                            <figure class="qr" inner_html=e.qr_svg></figure>
                            <dl class="facts">
                                <dt>"Account"</dt><dd class="email">{e.account_label}</dd>
                                <dt>"Key"</dt><dd><code data-testid="totp-secret">{e.secret_base32}</code></dd>
                                <dt>"Type"</dt><dd>"Time-based, 6 digits, every 30 seconds"</dd>
                            </dl>
                            <p><a href=e.otpauth_uri>"Open in an authenticator app on this device"</a></p>
                            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
                            <ActionForm action=action attr:class="form" attr:aria-label="Confirm your authenticator">
                                <div class="field">
                                    <label for="code">"Code from the app"</label>
                                    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                                        required maxlength="16" pattern="[0-9 ]{6,8}" spellcheck="false"/>
                                </div>
                                <button type="submit" disabled=move || action.pending().get()>"Turn on two-factor authentication"</button>
                            </ActionForm>
                        }),
                        Err(AppError::Unauthenticated) => Either::Right(Either::Left(view! {
                            <p class="notice error" role="alert">
                                "Your sign-in timed out. " <a href="/sign-in">"Sign in again"</a> " to continue setting up."
                            </p>
                        })),
                        Err(e) => Either::Right(Either::Right(view! {
                            <ErrorNotice error=e/>
                            <p><a href="/security">"Back to security settings"</a></p>
                        })),
                    }
                })}
            </Suspense>
        </AuthPage>
    }
}
