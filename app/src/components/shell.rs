//! The console's frame: tenant, account, navigation and sign-out on every signed-in page.

use crate::api::auth::{get_me, SignOut};
use crate::model::{AppError, Permission};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::{Redirect, A};

/// Marks the document as hydrated (effects only run in the browser); end-to-end tests wait for it before
/// using controls that need JavaScript.
#[component]
pub fn Hydrated() -> impl IntoView {
    let on = RwSignal::new(false);
    Effect::new(move |_| on.set(true));
    view! { <span hidden data-hydrated=move || on.get().to_string()></span> }
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

/// Wraps a signed-in page. Anyone not signed in is sent to sign in (the server's gate normally does this
/// before rendering; this covers client-side navigation after a session ended).
#[component]
pub fn Console(children: ChildrenFn) -> impl IntoView {
    let me = Resource::new(|| (), |_| get_me());
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {
                let children = children.clone();
                move || {
                    let children = children.clone();
                    Suspend::new(async move {
                        match me.await {
                            Ok(me) => Either::Left(view! {
                                <header class="topbar">
                                    <a class="brand" href="/overview">"Rampart"</a>
                                    <span class="tenant" title="Organisation">{me.tenant_name}</span>
                                    {(me.tenant_count > 1).then(|| view! {
                                        <a class="switch" href="/organisations">"Switch organisation"</a>
                                    })}
                                    <nav aria-label="Console">
                                        <A href="/overview">"Overview"</A>
                                        {me.features.contains(&Permission::AccessHistory).then(|| view! {
                                            <A href="/access-history">"Access history"</A>
                                        })}
                                        {me.features.contains(&Permission::Team).then(|| view! {
                                            <A href="/members">"Members"</A>
                                        })}
                                        {me.features.contains(&Permission::ApiKeys).then(|| view! {
                                            <A href="/keys">"API keys"</A>
                                        })}
                                        {me.features.contains(&Permission::VaultRead).then(|| view! {
                                            <A href="/vault">"Vault"</A>
                                        })}
                                        {me.features.contains(&Permission::Export).then(|| view! {
                                            <A href="/data-export">"Data export"</A>
                                        })}
                                        <A href="/security">"Security"</A>
                                        {me.is_admin.then(|| view! {
                                            <A href="/security/network">"Network"</A>
                                            <A href="/security/emergency">"Emergency"</A>
                                        })}
                                        <A href="/sessions">"Sessions"</A>
                                    </nav>
                                    <div class="account">
                                        <span class="email">{me.email}</span>
                                        <span class="role">{me.role}</span>
                                        <ActionForm action=sign_out>
                                            <button type="submit" class="secondary">"Sign out"</button>
                                        </ActionForm>
                                    </div>
                                </header>
                                <main class="page" id="main">{children()}</main>
                            }),
                            Err(AppError::Unauthenticated) => Either::Right(Either::Left(view! {
                                <Redirect path="/sign-in"/>
                            })),
                            Err(e) => Either::Right(Either::Right(view! {
                                <main class="page"><ErrorNotice error=e/></main>
                            })),
                        }
                    })
                }
            }
        </Suspense>
    }
}
