//! `/access-history/:id`: one event in full, with its place in the chain; and `/access-history/chain-key`:
//! the organisation's chain key for verifying an export offline (owners, after a step-up; each visit is an
//! event).

use crate::api::audit::{get_event, reveal_chain_key};
use crate::components::{Console, ErrorNotice, Hydrated};
use crate::model::format_utc;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AccessEventPage() -> impl IntoView {
    let params = use_params_map();
    let event = Resource::new(move || params.read().get("id").unwrap_or_default(), get_event);
    view! {
        <Title text="Event · Access history · Rampart"/>
        <Hydrated/>
        <Console>
            <p><a href="/access-history">"← Access history"</a></p>
            <h1>"Event"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match event.await {
                        Ok(d) => {
                            let e = d.event;
                            let member = d.member_id.map(|m| view! {
                                <a href=format!("/access-history?member={m}")>"Events of this member"</a>
                            });
                            let key = e.key_id.clone().map(|k| view! {
                                <a href=format!("/access-history?key={k}")>{k.clone()}</a>
                            });
                            Either::Left(view! {
                                <dl class="details">
                                    <dt>"Time (UTC)"</dt><dd><time>{format_utc(e.at)}</time>{format!(" ({} ms)", e.at)}</dd>
                                    <dt>"Action"</dt><dd><code>{e.action}</code></dd>
                                    <dt>"Outcome"</dt><dd class=format!("outcome {}", e.outcome)>{e.outcome.clone()}</dd>
                                    <dt>"Who"</dt><dd>{e.actor} " " {member}</dd>
                                    <dt>"IP address"</dt><dd><code>{e.ip}</code></dd>
                                    <dt>"Browser or client"</dt><dd class="ua">{e.user_agent}</dd>
                                    <dt>"Details"</dt><dd>{e.detail}</dd>
                                    <dt>"API key"</dt><dd>{key}</dd>
                                    <dt>"Event id"</dt><dd><code>{e.id}</code></dd>
                                    <dt>"Chain position"</dt><dd>{d.seq.map(|s| format!("#{s}"))}</dd>
                                    <dt>"Previous link (MAC)"</dt><dd><code class="mac">{d.prev_mac}</code></dd>
                                    <dt>"This link (MAC)"</dt><dd><code class="mac">{d.mac}</code></dd>
                                </dl>
                            })
                        }
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

#[component]
pub fn ChainKeyPage() -> impl IntoView {
    let key = Resource::new(|| (), |_| reveal_chain_key());
    view! {
        <Title text="Chain key · Access history · Rampart"/>
        <Hydrated/>
        <Console>
            <p><a href="/access-history">"← Access history"</a></p>
            <h1>"Chain key"</h1>
            <p class="lead">"With this key anyone can check an export of your access history offline (see the README, \"Verifying an export\"). It cannot sign in or reach any data. Each visit to this page is recorded."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match key.await {
                        Ok(k) => Either::Left(view! {
                            <dl class="details">
                                <dt>"Chain (organisation id)"</dt><dd><code>{k.chain}</code></dd>
                                {k.keys.into_iter().map(|c| view! {
                                    <dt>{format!("Key {}", c.label)}</dt><dd><code class="mac">{c.value}</code></dd>
                                }).collect_view()}
                            </dl>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
