//! `/access-history`: the organisation's events, filtered (member, key, action, outcome, IP or CIDR, dates),
//! 50 per page with a cursor, each linking to its detail; exports of the filtered set; the integrity check of
//! the chain; the retention setting. The filter form is a plain GET form: it works without JavaScript and its
//! URL can be bookmarked or shared.

use crate::api::audit::{get_history, SetHistoryRetention, VerifyHistory};
use crate::components::{error_notices, ApprovalReason, Console, ErrorNotice, ExportLinks, Hydrated, TableWrap};
use crate::model::{format_utc, HistoryView, AUDIT_ACTIONS};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The filter fields, in URL order.
const FIELDS: [&str; 7] = ["member", "key", "action", "outcome", "ip", "from", "to"];

/// Percent-encodes a query value.
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[component]
pub fn AccessHistoryPage() -> impl IntoView {
    let query = use_query_map();
    let verify = ServerAction::<VerifyHistory>::new();
    let retention = ServerAction::<SetHistoryRetention>::new();
    let field = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let data = Resource::new(
        move || (FIELDS.map(&field), field("cursor"), verify.version().get(), retention.version().get()),
        |([member, key, action, outcome, ip, from, to], cursor, _, _)| {
            get_history(member, key, action, outcome, ip, from, to, cursor)
        },
    );
    let filter_query = move || {
        FIELDS.iter().filter_map(|f| field(f).map(|v| format!("{f}={}", encode(&v)))).collect::<Vec<_>>().join("&")
    };
    let errors = move || {
        error_notices([verify.value().get().and_then(Result::err), retention.value().get().and_then(Result::err)])
    };
    view! {
        <Title text="Access history · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Access history"</h1>
            <p class="lead">"Every sign-in, failure, API request and administrative act in your organisation, newest first. Times are UTC."</p>
            {move || field("retention").map(|_| view! { <p class="notice ok" role="status">"The retention was saved."</p> })}
            {errors}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(h) => Either::Left(view! {
                            <Filters h=h.clone() field=Callback::new(move |f: String| field(&f).unwrap_or_default())/>
                            <ExportLinks
                                href_csv=format!("/access-history/export?format=csv&{}", filter_query())
                                href_json=format!("/access-history/export?format=json&{}", filter_query())/>
                            <Events h=h.clone() filter_query=filter_query()/>
                            <Integrity h=h.clone() verify=verify/>
                            <Retention h=h retention=retention/>
                        }),
                        Err(e) => Either::Right(view! {
                            <ErrorNotice error=e/>
                            <p><a href="/access-history">"Clear the filters"</a></p>
                        }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

#[component]
fn Filters(h: HistoryView, field: Callback<String, String>) -> impl IntoView {
    let f = move |name: &str| field.run(name.to_owned());
    let selected = move |name: &str, v: &str| f(name) == v;
    view! {
        <form method="get" action="/access-history" class="form filters" aria-label="Filter events">
            <div class="field">
                <label for="f-member">"Member"</label>
                <select id="f-member" name="member">
                    <option value="">"Anyone"</option>
                    {h.members.into_iter().map(|m| {
                        let sel = selected("member", &m.value);
                        view! { <option value=m.value selected=sel>{m.label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-key">"API key"</label>
                <select id="f-key" name="key">
                    <option value="">"Any"</option>
                    {h.keys.into_iter().map(|k| {
                        let sel = selected("key", &k.value);
                        view! { <option value=k.value selected=sel>{k.label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-action">"Action"</label>
                <select id="f-action" name="action">
                    <option value="">"Any"</option>
                    {AUDIT_ACTIONS.iter().map(|a| {
                        let sel = selected("action", a);
                        view! { <option value=*a selected=sel>{*a}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-outcome">"Outcome"</label>
                <select id="f-outcome" name="outcome">
                    <option value="">"Any"</option>
                    <option value="success" selected=selected("outcome", "success")>"success"</option>
                    <option value="failure" selected=selected("outcome", "failure")>"failure"</option>
                </select>
            </div>
            <div class="field">
                <label for="f-ip">"IP address or CIDR block"</label>
                <input id="f-ip" name="ip" value=f("ip") placeholder="203.0.113.0/24" maxlength="64"/>
            </div>
            <div class="field">
                <label for="f-from">"From (UTC date)"</label>
                <input id="f-from" name="from" type="date" value=f("from")/>
            </div>
            <div class="field">
                <label for="f-to">"To (UTC date, included)"</label>
                <input id="f-to" name="to" type="date" value=f("to")/>
            </div>
            <div class="actions">
                <button type="submit">"Filter"</button>
                <a href="/access-history">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn Events(h: HistoryView, filter_query: String) -> impl IntoView {
    let next = h.next_cursor.clone().map(|c| {
        let sep = if filter_query.is_empty() { "" } else { "&" };
        let href = format!("/access-history?{filter_query}{sep}cursor={}", encode(&c));
        view! { <p><a href=href rel="next">"Older events →"</a></p> }
    });
    if h.events.is_empty() {
        return Either::Left(view! { <p>"No events match."</p> });
    }
    Either::Right(view! {
        <TableWrap label="Events">
            <table>
                <caption class="visually-hidden">"Events"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Who"</th>
                        <th scope="col">"IP"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {h.events.into_iter().map(|e| view! {
                        <tr>
                            <td><a href=format!("/access-history/{}", e.id)><time>{format_utc(e.at)}</time></a></td>
                            <td>{e.action}</td>
                            <td class=format!("outcome {}", e.outcome)>{e.outcome.clone()}</td>
                            <td>{e.actor}</td>
                            <td><code>{e.ip}</code></td>
                            <td class="ua">{e.detail}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
        {next}
    })
}

#[component]
fn Integrity(h: HistoryView, verify: ServerAction<VerifyHistory>) -> impl IntoView {
    let last = h.last_verification.map(|e| {
        let ok = e.outcome == "success";
        view! {
            <p class=if ok { "notice ok" } else { "notice error" } role="status">
                {if ok { "Intact: " } else { "Broken: " }}{e.detail}
                " (checked " <time>{format_utc(e.at)}</time> " by " {e.actor} ")"
            </p>
        }
    });
    view! {
        <section aria-labelledby="integrity-h">
            <h2 id="integrity-h">"Integrity"</h2>
            <p>"Each event is sealed with an HMAC-SHA-256 chain under a server key; the newest link is stored apart. The check recomputes every link and reports the first broken one: an edited, removed or truncated event."</p>
            {last}
            <ActionForm action=verify attr:aria-label="Verify integrity">
                <button type="submit">"Verify integrity"</button>
            </ActionForm>
            {h.is_owner.then(|| view! {
                <p><a href="/access-history/chain-key">"Show the chain key for offline verification"</a></p>
            })}
        </section>
    }
}

#[component]
fn Retention(h: HistoryView, retention: ServerAction<SetHistoryRetention>) -> impl IntoView {
    let days = h.retention_days.to_string();
    view! {
        <section aria-labelledby="retention-h">
            <h2 id="retention-h">"Retention"</h2>
            <p>{format!("Events are kept for {} days, then deleted; the chain keeps a checkpoint so what remains still verifies.", h.retention_days)}</p>
            {h.can_manage.then(|| view! {
                <ActionForm action=retention attr:class="form" attr:aria-label="Retention">
                    <div class="field">
                        <label for="retention-days">"Keep events for (days)"</label>
                        <input id="retention-days" name="days" type="number" min="90" max="3650" value=days required/>
                    </div>
                    <ApprovalReason id="retention-reason"/>
                    <button type="submit">"Save retention"</button>
                </ActionForm>
            })}
        </section>
    }
}
