//! `/invite/:token`: accept an invitation — set a password for a new account, or accept with the account
//! already signed in.

use crate::api::invitations::{get_invite_info, AcceptInvitation};
use crate::components::{AuthPage, ErrorNotice, Hydrated, PasswordField};
use crate::model::AppError;
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let info = Resource::new(token, get_invite_info);
    let action = ServerAction::<AcceptInvitation>::new();
    view! {
        <Title text="Invitation · Rampart"/>
        <Hydrated/>
        <AuthPage>
            <h1>"Join your organisation"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Checking your invitation…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(i) => Either::Left(view! {
                            <p><strong>{i.invited_by}</strong> " invites " <strong class="email">{i.email.clone()}</strong>
                               " to " <strong>{i.tenant_name}</strong> " as " {i.role} "."</p>
                            {i.requires_two_factor.then(|| view! {
                                <p class="notice warn">"This organisation requires two-factor authentication: you will set up an authenticator app when you first sign in."</p>
                            })}
                            {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
                            {if i.has_account {
                                Either::Left(view! {
                                    <p>"You already have a Rampart account. " <a href="/sign-in">"Sign in"</a>
                                       " as this email, then open the invitation link again and accept."</p>
                                    <ActionForm action=action attr:class="form" attr:aria-label="Accept the invitation">
                                        <input type="hidden" name="token" value=token()/>
                                        <button type="submit">"Accept the invitation"</button>
                                    </ActionForm>
                                })
                            } else {
                                Either::Right(view! {
                                    <ActionForm action=action attr:class="form" attr:aria-label="Accept the invitation">
                                        <input type="hidden" name="token" value=token()/>
                                        <input type="email" name="username" value=i.email autocomplete="username" hidden readonly/>
                                        <PasswordField id="password" name="password" label="Choose a password" autocomplete="new-password"
                                            hint=format!("At least {} characters. Common passwords and your email or organisation name are refused.", i.policy.min_chars)/>
                                        <button type="submit" disabled=move || action.pending().get()>"Accept and create my account"</button>
                                    </ActionForm>
                                })
                            }}
                        }),
                        Err(AppError::NotFound) => Either::Right(EitherOf3::A(view! {
                            <p class="notice error" role="alert">
                                "This invitation is invalid, expired, revoked or already used. Ask your administrator to send it again."
                            </p>
                        })),
                        Err(AppError::Unauthenticated) => Either::Right(EitherOf3::B(view! {
                            <p><a href="/sign-in">"Sign in"</a></p>
                        })),
                        Err(e) => Either::Right(EitherOf3::C(view! { <ErrorNotice error=e/> })),
                    }
                })}
            </Suspense>
        </AuthPage>
    }
}
