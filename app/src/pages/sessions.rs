//! `/sessions`: "Your sessions" — where the account is signed in, with revoke and "sign out everywhere else".

use crate::api::sessions::{list_my_sessions, RevokeMySession, RevokeOtherSessions};
use crate::components::{Console, ErrorNotice, Hydrated, SessionsTable};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SessionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeMySession>::new();
    let others = ServerAction::<RevokeOtherSessions>::new();
    let data = Resource::new(move || (revoke.version().get(), others.version().get()), |_| list_my_sessions());
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("others").is_some() {
            Some("Every other session was signed out.")
        } else if q.get("revoked").is_some() {
            Some("The session was signed out.")
        } else {
            None
        }
    };
    view! {
        <Title text="Your sessions · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Your sessions"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            {move || others.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <p>"Every browser where your account is signed in. Don't recognise one? Sign it out and change your password."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(list) => Either::Left(view! {
                            <SessionsTable sessions=list revoke=move |id: String| view! {
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="id" value=id/>
                                    <button type="submit" class="secondary">"Sign out"</button>
                                </ActionForm>
                            }.into_any()/>
                            <ActionForm action=others attr:class="inline">
                                <button type="submit" class="danger">"Sign out everywhere else"</button>
                            </ActionForm>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
