//! The console's frames: the signed-in console (header with tenant, account and sign-out; the navigation; the
//! page) and the narrow frame of the pages opened signed out.

use super::nav::ConsoleNav;
use crate::api::auth::{get_me, SignOut};
use crate::model::{AppError, Me};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Marks the document as hydrated (effects only run in the browser); end-to-end tests wait for it before
/// using controls that need JavaScript.
#[component]
pub fn Hydrated() -> impl IntoView {
    let on = RwSignal::new(false);
    Effect::new(move |_| on.set(true));
    view! { <span hidden data-hydrated=move || on.get().to_string()></span> }
}

/// The error boxes of the actions whose last result failed (`action.value().get().and_then(Result::err)` each).
pub fn error_notices(errors: impl IntoIterator<Item = Option<AppError>>) -> impl IntoView {
    errors.into_iter().flatten().map(|e| view! { <ErrorNotice error=e/> }).collect_view()
}

/// An error box for a failed action or load. A step-up demand links to the confirmation page, which returns
/// here afterwards.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let step_up = (error == AppError::StepUpRequired).then(|| {
        let here = leptos_router::hooks::use_location().pathname.get_untracked();
        let href = format!("/confirm-access?next={}", encode_path(&here));
        view! { " " <a href=href>"Confirm it's you"</a> }
    });
    view! { <p class="notice error" role="alert">{error.to_string()}{step_up}</p> }
}

/// Percent-encodes a path for a query value (only unreserved characters and `/` stay as they are).
fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The shield of the brand, drawn in the theme's colours (decorative: the text beside it names it).
#[component]
pub fn BrandMark() -> impl IntoView {
    view! {
        <svg class="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
            <path class="shield" d="M16 2 4 7v8c0 7.5 5.1 13.2 12 15 6.9-1.8 12-7.5 12-15V7z"/>
            <path class="tick" d="m10 16 4 4 8-8"/>
        </svg>
    }
}

/// The frame of the pages opened signed out (sign-in, setup, invitations, password reset, the second factor,
/// not found): the brand above one narrow column.
#[component]
pub fn AuthPage(children: Children) -> impl IntoView {
    view! {
        <div class="auth">
            <header class="auth-brand"><BrandMark/><span>"Rampart"</span></header>
            <main class="page narrow" id="main">{children()}</main>
        </div>
    }
}

/// Wraps a signed-in page: a header with the organisation and the account, the navigation, and the page.
/// Anyone not signed in is sent to sign in (the server's gate normally does this before rendering; this
/// covers client-side navigation after a session ended).
#[component]
pub fn Console(children: ChildrenFn) -> impl IntoView {
    let me = Resource::new(|| (), |_| get_me());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {
                let children = children.clone();
                move || {
                    let children = children.clone();
                    Suspend::new(async move {
                        match me.await {
                            Ok(me) => Either::Left(view! {
                                <div class="console">
                                    {me.support.clone().map(|banner| view! {
                                        <p class="notice warn support-banner" role="status" data-testid="support-banner">{banner}</p>
                                    })}
                                    <ConsoleHeader me=me.clone()/>
                                    <ConsoleNav me=me/>
                                    <main class="page" id="main">{children()}</main>
                                </div>
                            }),
                            Err(AppError::Unauthenticated) => Either::Right(Either::Left(view! {
                                <Redirect path="/sign-in"/>
                            })),
                            Err(e) => Either::Right(Either::Right(view! {
                                <main class="page" id="main"><ErrorNotice error=e/></main>
                            })),
                        }
                    })
                }
            }
        </Suspense>
    }
}

/// The console's header, on one line at every width (long names are cut short with an ellipsis): the brand,
/// the organisation (and a switch when the account has several), the member and their role, and sign-out.
#[component]
fn ConsoleHeader(me: Me) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header class="topbar">
            <a class="brand" href="/overview"><BrandMark/><span class="brand-name">"Rampart"</span></a>
            <div class="org">
                <span class="tenant"><span class="sr-only">"Organisation: "</span>{me.tenant_name}</span>
                {(me.tenant_count > 1).then(|| view! {
                    <a class="switch" href="/organisations">"Switch"<span class="wide-only">" organisation"</span></a>
                })}
            </div>
            <div class="account">
                <span class="who">
                    <span class="email">{me.email}</span>
                    <span class="role"><span class="sr-only">"Role: "</span>{me.role}</span>
                </span>
                <ActionForm action=sign_out attr:class="sign-out">
                    <button type="submit" class="secondary">"Sign out"</button>
                </ActionForm>
            </div>
        </header>
    }
}
