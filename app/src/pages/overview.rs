//! `/overview`: the console's landing page.

use crate::api::overview::get_overview;
use crate::components::{Console, ErrorNotice, Hydrated};
use crate::model::format_utc;
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_overview());
    view! {
        <Title text="Overview · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Overview"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(o) => Either::Left(view! {
                            {match o.recovery_codes_left {
                                Some(left) if left <= 3 => Some(view! {
                                    <p class="notice warn" role="status">
                                        "Only " {left} " recovery code(s) left. "
                                        <a href="/security">"Make a new set"</a> " before you need them."
                                    </p>
                                }.into_any()),
                                None if !o.two_factor_required => Some(view! {
                                    <p class="notice warn" role="status">
                                        "Your account is protected by a password only. "
                                        <a href="/two-factor/setup">"Set up two-factor authentication"</a> "."
                                    </p>
                                }.into_any()),
                                _ => None,
                            }}
                            {(o.keys_due > 0).then(|| view! {
                                <p class="notice warn" role="status">
                                    {o.keys_due} " API key(s) due for rotation. "
                                    <a href="/keys">"Roll them"</a> " before they expire."
                                </p>
                            })}
                            <section class="cards" aria-label="Figures">
                                <div class="card"><span class="figure">{o.members}</span><span>"Members"</span></div>
                                <div class="card"><span class="figure">{o.sign_ins_24h}</span><span>"Sign-ins, last 24 h"</span></div>
                                <div class="card"><span class="figure">{o.failed_sign_ins_24h}</span><span>"Failed sign-ins, last 24 h"</span></div>
                            </section>
                            <section aria-label="Your previous sign-in">
                                <h2>"Your previous sign-in"</h2>
                                {match (o.previous_sign_in_at, o.previous_sign_in_ip) {
                                    (Some(at), Some(ip)) => Either::Left(view! {
                                        <p>{format_utc(at)} " from " <code>{ip}</code>
                                        ". Not you? Change your password and review the "
                                        <a href="/access-history">"access history"</a> "."</p>
                                    }),
                                    _ => Either::Right(view! { <p>"This is your first sign-in."</p> }),
                                }}
                            </section>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}
