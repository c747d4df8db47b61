//! `/overview`: the console's landing page.

use crate::api::overview::get_overview;
use crate::components::{Console, ErrorNotice, Hydrated, SignInChart};
use crate::model::{format_utc, DayCount, PostureView};
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
                            {o.posture.clone().map(|p| posture_section(p, o.sign_in_days.clone()))}
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

/// One posture figure: the number, what it counts, whether it needs attention, and where it is fixed.
fn figure(value: String, label: &'static str, warn: bool, href: &'static str, fix: &'static str) -> impl IntoView {
    view! {
        <li class=if warn { "posture warn" } else { "posture ok" }>
            <span class="figure">{value}</span>
            <span>{label}</span>
            " "
            <a href=href>{fix}</a>
        </li>
    }
}

fn posture_section(p: PostureView, days: Vec<DayCount>) -> impl IntoView {
    let share = if p.members > 0 { p.members_with_two_factor * 100 / p.members } else { 100 };
    let stale_label = if p.stale_after_minutes > 0 { "Sessions left idle (likely forgotten)" } else { "Idle sessions" };
    view! {
        <section aria-labelledby="posture-h">
            <h2 id="posture-h">"Security posture"</h2>
            <ul class="cards posture-list">
                {figure(
                    format!("{share}% ({}/{})", p.members_with_two_factor, p.members),
                    "Members with two-factor authentication",
                    p.members_with_two_factor < p.members,
                    if p.two_factor_required { "/members" } else { "/security" },
                    if p.two_factor_required { "See who" } else { "Require it" },
                )}
                {figure(p.admins.to_string(), "Owners and admins", p.admins > 3, "/members", "Review roles")}
                {figure(p.keys_older_than_90_days.to_string(), "API keys older than 90 days", p.keys_older_than_90_days > 0, "/keys?filter=old", "Roll them")}
                {figure(p.keys_never_used.to_string(), "API keys never used", p.keys_never_used > 0, "/keys?filter=unused", "Revoke unused keys")}
                {figure(p.keys_without_ip_restriction.to_string(), "API keys without an IP allow list", p.keys_without_ip_restriction > 0, "/keys?filter=open", "Restrict them")}
                {figure(p.stale_sessions.to_string(), stale_label, p.stale_sessions > 0, "/members", "End them")}
                {figure(p.machines_due_for_renewal.to_string(), "Machines due for certificate renewal", p.machines_due_for_renewal > 0, "/settings/machines", "See them")}
            </ul>
            <p class="hint">"Idle sessions: still signed in but unused for over " {p.stale_after_minutes} " minutes. Keys: live keys, canaries excluded."</p>
            <h3>"Sign-in activity"</h3>
            <SignInChart days=days/>
        </section>
    }
}
