//! `/security`: the member's own security settings (two-factor, recovery codes, password) and, for owners and
//! admins, the organisation's two-factor policy. Sensitive changes need a step-up within the last 10 minutes.

use crate::api::security::{get_security, ChangePassword, SetTwoFactorPolicy};
use crate::api::two_factor::{DisableTwoFactor, RegenerateRecoveryCodes};
use crate::components::{ApprovalReason, Console, ErrorNotice, Hydrated, PasswordField, StepUpForm, SteppedUpSignal};
use crate::model::format_utc;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SecurityPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let disable = ServerAction::<DisableTwoFactor>::new();
    let policy = ServerAction::<SetTwoFactorPolicy>::new();
    let stepped_up = SteppedUpSignal(RwSignal::new(0));
    provide_context(stepped_up);
    let data = Resource::new(
        move || (change.version().get(), disable.version().get(), policy.version().get(), stepped_up.0.get()),
        |_| get_security(),
    );
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("password").is_some() {
            Some("Your password was changed.")
        } else if q.get("two_factor").is_some() {
            Some("Two-factor authentication is off.")
        } else if q.get("policy").is_some() {
            Some("The organisation's policy was saved.")
        } else {
            None
        }
    };
    let error_of = move |e: Option<Result<(), crate::model::AppError>>| {
        e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })
    };
    view! {
        <Title text="Security · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Security"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(s) => Either::Left(view! {
                            <section aria-labelledby="confirm-h">
                                <h2 id="confirm-h">"Confirm it's you"</h2>
                                {match s.step_up_valid_until {
                                    Some(until) => Either::Left(view! {
                                        <p class="notice ok" role="status">"Confirmed until " {format_utc(until)} ". Sensitive changes below need no password until then."</p>
                                    }),
                                    None => Either::Right(view! {
                                        <p>"Changing your password, two-factor settings or the organisation's policy needs your password"
                                           {s.two_factor_enabled.then_some(" and a code")} " again. It stays confirmed for 10 minutes."</p>
                                        <StepUpForm next="/security".to_owned() with_code=s.two_factor_enabled/>
                                    }),
                                }}
                            </section>
                            <section aria-labelledby="tfa-h">
                                <h2 id="tfa-h">"Two-factor authentication"</h2>
                                {if s.two_factor_enabled {
                                    EitherOf3::A(view! {
                                        <p><strong>"On"</strong> " — an authenticator app. " {s.recovery_codes_left} " recovery code(s) left."</p>
                                        {(s.recovery_codes_left <= s.recovery_codes_low).then(|| view! {
                                            <p class="notice warn" role="status">"You are running out of recovery codes. Make a new set."</p>
                                        })}
                                        {move || error_of(regenerate.value().get())}
                                        <ActionForm action=regenerate attr:class="inline">
                                            <button type="submit" class="secondary">"Make new recovery codes"</button>
                                        </ActionForm>
                                        {move || error_of(disable.value().get())}
                                        {(!s.tenant_requires_two_factor).then(|| view! {
                                            <ActionForm action=disable attr:class="inline">
                                                <button type="submit" class="danger">"Turn off two-factor authentication"</button>
                                            </ActionForm>
                                        })}
                                    })
                                } else if s.tenant_requires_two_factor {
                                    EitherOf3::B(view! {
                                        <p class="notice warn">"Your organisation requires two-factor authentication."</p>
                                        <p><a class="button" href="/two-factor/setup">"Set up two-factor authentication"</a></p>
                                    })
                                } else {
                                    EitherOf3::C(view! {
                                        <p><strong>"Off"</strong> ". A code from your phone at each sign-in stops anyone who learns your password."</p>
                                        <p><a class="button" href="/two-factor/setup">"Set up two-factor authentication"</a></p>
                                    })
                                }}
                            </section>
                            <section aria-labelledby="pw-h">
                                <h2 id="pw-h">"Change your password"</h2>
                                {move || error_of(change.value().get())}
                                <ActionForm action=change attr:class="form" attr:aria-label="Change your password">
                                    <input type="email" name="username" value=s.email.clone() autocomplete="username" hidden readonly/>
                                    <PasswordField id="current_password" name="current_password" label="Current password" autocomplete="current-password"/>
                                    <PasswordField id="new_password" name="new_password" label="New password" autocomplete="new-password"
                                        hint=format!("At least {} characters. Common passwords and your email or organisation name are refused.", s.password_policy.min_chars)/>
                                    <div class="field check">
                                        <input id="sign_out_others" name="sign_out_others" type="checkbox" value="on" checked/>
                                        <label for="sign_out_others">"Sign out all my other sessions"</label>
                                    </div>
                                    <button type="submit" disabled=move || change.pending().get()>"Change password"</button>
                                </ActionForm>
                            </section>
                            {s.can_manage_policy.then(|| view! {
                                <section aria-labelledby="policy-h">
                                    <h2 id="policy-h">"Organisation policy"</h2>
                                    {move || error_of(policy.value().get())}
                                    <ActionForm action=policy attr:class="form" attr:aria-label="Organisation policy">
                                        <div class="field check">
                                            <input id="required" name="required" type="checkbox" value="on" checked=s.tenant_requires_two_factor/>
                                            <label for="required">"Require two-factor authentication for every member"</label>
                                        </div>
                                        <p class="hint">"Members without it set it up at their next sign-in; those signed in without it are signed out. \
                                            While it is required, passwords may be as short as 8 characters (NIST SP 800-63B)."</p>
                                        <ApprovalReason id="policy-reason"/>
                                        <button type="submit">"Save policy"</button>
                                    </ActionForm>
                                </section>
                            })}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
