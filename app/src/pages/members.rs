//! `/members`: the organisation's members with role, two-factor status and last sign-in; admins can reset a
//! member's two-factor authentication.

use crate::api::members::{list_members, ResetMemberTwoFactor};
use crate::components::{Console, ErrorNotice, Hydrated};
use crate::model::format_utc;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn MembersPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| list_members());
    let reset = ServerAction::<ResetMemberTwoFactor>::new();
    let query = use_query_map();
    view! {
        <Title text="Members · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Members"</h1>
            {move || query.read().get("reset").map(|_| view! {
                <p class="notice ok" role="status">"Two-factor authentication was reset. The member sets it up again at the next sign-in."</p>
            })}
            {move || reset.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {v.tenant_requires_two_factor.then(|| view! {
                                <p class="notice ok">"Two-factor authentication is required for every member."</p>
                            })}
                            <table class="table">
                                <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Two-factor"</th>
                                    <th scope="col">"Last sign-in"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {v.members.into_iter().map(|m| {
                                        let can_reset = v.can_manage && m.two_factor_enabled && !m.is_me;
                                        view! {
                                            <tr>
                                                <td class="email">{m.email.clone()}{m.is_me.then_some(" (you)")}</td>
                                                <td>{m.role}</td>
                                                <td>{if m.two_factor_enabled { "On" } else { "Off" }}</td>
                                                <td>{m.last_sign_in_at.map(format_utc).unwrap_or_else(|| "never".to_owned())}</td>
                                                <td>{can_reset.then(|| view! {
                                                    <ActionForm action=reset attr:class="inline">
                                                        <input type="hidden" name="membership_id" value=m.membership_id.clone()/>
                                                        <button type="submit" class="danger" aria-label=format!("Reset two-factor for {}", m.email)>"Reset two-factor"</button>
                                                    </ActionForm>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
