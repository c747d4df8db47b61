//! `/access-history`: the tenant's latest 50 events (the full viewer with filters comes later).

use crate::api::audit::list_recent_events;
use crate::components::{Console, ErrorNotice, Hydrated};
use crate::model::format_utc;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccessHistoryPage() -> impl IntoView {
    let events = Resource::new(|| (), |_| list_recent_events());
    view! {
        <Title text="Access history · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Access history"</h1>
            <p class="lead">"The latest 50 events in your organisation: sign-ins, failures, sign-outs and password changes. Times are UTC."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Ok(list) if list.is_empty() => Either::Left(Either::Left(view! { <p>"No events yet."</p> })),
                        Ok(list) => Either::Left(Either::Right(view! {
                            <div class="table-wrap">
                                <table>
                                    <caption class="visually-hidden">"Latest events"</caption>
                                    <thead>
                                        <tr>
                                            <th scope="col">"Time"</th>
                                            <th scope="col">"Event"</th>
                                            <th scope="col">"Outcome"</th>
                                            <th scope="col">"Who"</th>
                                            <th scope="col">"IP"</th>
                                            <th scope="col">"Browser"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {list.into_iter().map(|e| view! {
                                            <tr>
                                                <td><time>{format_utc(e.at)}</time></td>
                                                <td>{e.action}</td>
                                                <td class=format!("outcome {}", e.outcome)>{e.outcome.clone()}</td>
                                                <td>{e.actor}</td>
                                                <td><code>{e.ip}</code></td>
                                                <td class="ua">{e.user_agent}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        })),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
