//! `/confirm-access?next=…`: step-up. The member enters the password (and a code when enrolled) and returns
//! to what they were doing.

use crate::api::security::get_security;
use crate::components::{Console, ErrorNotice, Hydrated, StepUpForm};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ConfirmAccessPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_security());
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/security".to_owned());
    view! {
        <Title text="Confirm it's you · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Confirm it's you"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(s) => Either::Left(view! {
                            <p>"This change needs your password" {s.two_factor_enabled.then_some(" and a code")}
                               ". You won't be asked again for 10 minutes."</p>
                            <StepUpForm next=next() with_code=s.two_factor_enabled/>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
