//! `/api-reference`: the REST API as its generated OpenAPI document describes it, readable in the console.

use crate::api::keys::get_api_reference;
use crate::components::{Console, ErrorNotice, Hydrated};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_api_reference());
    view! {
        <Title text="API reference · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"API reference"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(r) => Either::Left(view! {
                            <p>{r.description}</p>
                            <p>"Example: " <code>"curl -H \"Authorization: Bearer $RAMPART_KEY\" "
                                {r.base_url} "/api/v1/members"</code></p>
                            <p>"The machine-readable document (OpenAPI 3.1): "
                                <a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>
                                ". Keys are made on the " <a href="/keys">"API keys"</a> " page."</p>
                            {r.operations.into_iter().map(|op| view! {
                                <section class="operation">
                                    <h2><code>{op.method} " " {op.path}</code></h2>
                                    <p>{op.summary}</p>
                                    <p>"Key needs: " {if op.scopes.is_empty() { "nothing".to_owned() } else { op.scopes.join(", ") }}</p>
                                    {(!op.parameters.is_empty()).then(|| view! {
                                        <dl class="facts">
                                            {op.parameters.into_iter().map(|p| view! {
                                                <dt><code>{p.name}</code> " (" {p.location} ")"</dt><dd>{p.description}</dd>
                                            }).collect_view()}
                                        </dl>
                                    })}
                                    <ul>
                                        {op.responses.into_iter().map(|(status, what)| view! {
                                            <li><code>{status}</code> " " {what}</li>
                                        }).collect_view()}
                                    </ul>
                                </section>
                            }).collect_view()}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
