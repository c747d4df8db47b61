//! `/organisations`: the organisations the account belongs to; pick one (after sign-in) or switch.

use crate::api::auth::{list_my_tenants, SwitchTenant};
use crate::components::{Console, ErrorNotice, Hydrated};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrganisationsPage() -> impl IntoView {
    let switch = ServerAction::<SwitchTenant>::new();
    let data = Resource::new(move || switch.version().get(), |_| list_my_tenants());
    let query = use_query_map();
    view! {
        <Title text="Organisations · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Your organisations"</h1>
            {move || query.read().get("joined").map(|_| view! { <p class="notice ok" role="status">"You joined the organisation."</p> })}
            {move || switch.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(list) => Either::Left(view! {
                            <ul class="choices" aria-label="Organisations">
                                {list.into_iter().map(|t| view! {
                                    <li>
                                        <strong>{t.tenant_name.clone()}</strong> " · " {t.role}
                                        {if t.current {
                                            Either::Left(view! { " " <span class="tag">"current"</span> })
                                        } else {
                                            Either::Right(view! {
                                                <ActionForm action=switch attr:class="inline">
                                                    <input type="hidden" name="membership_id" value=t.membership_id/>
                                                    <button type="submit" class="secondary" aria-label=format!("Open {}", t.tenant_name)>"Open"</button>
                                                </ActionForm>
                                            })
                                        }}
                                    </li>
                                }).collect_view()}
                            </ul>
                            <p><a href="/overview">"Continue"</a></p>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
