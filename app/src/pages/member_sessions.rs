//! `/members/:id/sessions`: an admin sees a member's sessions in this organisation and signs them out.

use crate::api::sessions::{list_member_sessions, RevokeMemberSessions};
use crate::components::{Console, ErrorNotice, Hydrated, SessionsTable};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn MemberSessionsPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let revoke = ServerAction::<RevokeMemberSessions>::new();
    let data = Resource::new(move || (id(), revoke.version().get()), |(id, _)| list_member_sessions(id));
    let query = use_query_map();
    view! {
        <Title text="Member sessions · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Member sessions"</h1>
            {move || query.read().get("revoked").map(|_| view! { <p class="notice ok" role="status">"Signed out."</p> })}
            {move || revoke.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => {
                            let membership = v.membership_id.clone();
                            let m2 = v.membership_id.clone();
                            Either::Left(view! {
                                <p>"Sessions of " <strong class="email">{v.email}</strong> " in this organisation."</p>
                                <SessionsTable sessions=v.sessions revoke=move |sid: String| {
                                    let membership = membership.clone();
                                    view! {
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="membership_id" value=membership/>
                                        <input type="hidden" name="id" value=sid/>
                                        <button type="submit" class="secondary">"Sign out"</button>
                                    </ActionForm>
                                }.into_any()}/>
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="membership_id" value=m2/>
                                    <button type="submit" class="danger">"Sign out all their sessions"</button>
                                </ActionForm>
                                <p><a href="/members">"Back to members"</a></p>
                            })
                        }
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
