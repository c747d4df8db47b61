//! `/security/network`: the organisation's network rules (owners and admins) — the IP block list, enforced on
//! the console and the REST API, and the console allow list. Changes need a step-up within 10 minutes.

use crate::api::ip_rules::{get_ip_rules, AddIpBlock, RemoveIpBlock, SetConsoleAllowList};
use crate::components::{Console, ErrorNotice, Hydrated, StepUpForm, SteppedUpSignal, TableWrap};
use crate::model::{format_utc, AppError, IpBlockView, IpRulesView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn NetworkPage() -> impl IntoView {
    let add = ServerAction::<AddIpBlock>::new();
    let remove = ServerAction::<RemoveIpBlock>::new();
    let allow = ServerAction::<SetConsoleAllowList>::new();
    let stepped_up = SteppedUpSignal(RwSignal::new(0));
    provide_context(stepped_up);
    let data = Resource::new(
        move || (add.version().get(), remove.version().get(), allow.version().get(), stepped_up.0.get()),
        |_| get_ip_rules(),
    );
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("blocked").is_some() {
            Some("The address is blocked.")
        } else if q.get("unblocked").is_some() {
            Some("The block was removed.")
        } else if q.get("allow_list").is_some() {
            Some("The console allow list was saved.")
        } else {
            None
        }
    };
    let error_of =
        move |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> });
    view! {
        <Title text="Network rules · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Network rules"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {step_up_section(&v)}
                            <section aria-labelledby="blocks-h">
                                <h2 id="blocks-h">"Blocked addresses"</h2>
                                <p>"Requests from these addresses are refused on the console and on the API, \
                                    for every member and every key of the organisation."</p>
                                {move || error_of(remove.value().get())}
                                {blocks_table(v.blocks.clone(), remove)}
                                {move || error_of(add.value().get())}
                                <ActionForm action=add attr:class="form" attr:aria-label="Block an address">
                                    <div class="field">
                                        <label for="cidr">"IP address or CIDR block"</label>
                                        <input id="cidr" name="cidr" type="text" required maxlength="64" spellcheck="false"
                                            autocapitalize="off" placeholder="203.0.113.7 or 2001:db8::/32"/>
                                    </div>
                                    <div class="field">
                                        <label for="reason">"Reason"</label>
                                        <input id="reason" name="reason" type="text" required maxlength="200"/>
                                    </div>
                                    <div class="field">
                                        <label for="expires_in_days">"Block for (days)"</label>
                                        <input id="expires_in_days" name="expires_in_days" type="number" min="1" max="3650"
                                            aria-describedby="expires-hint"/>
                                        <p class="hint" id="expires-hint">"Leave empty to block until removed."</p>
                                    </div>
                                    <button type="submit" class="danger" disabled=move || add.pending().get()>"Block"</button>
                                </ActionForm>
                            </section>
                            <section aria-labelledby="allow-h">
                                <h2 id="allow-h">"Console allow list"</h2>
                                <p>"When the list is not empty, the console can be used only from these networks. It does \
                                    not apply to API keys: give each key its own IP allow list."</p>
                                <p>"Your address now: " <code>{v.your_ip.clone()}</code>
                                   ". The list must contain it, so that you cannot lock yourself out."</p>
                                {move || error_of(allow.value().get())}
                                <ActionForm action=allow attr:class="form" attr:aria-label="Console allow list">
                                    <div class="field">
                                        <label for="allowed_ips">"Allowed networks (one per line; empty: anywhere)"</label>
                                        <textarea id="allowed_ips" name="allowed_ips" rows="4" spellcheck="false"
                                            autocapitalize="off">{v.console_allowed_ips.join("\n")}</textarea>
                                    </div>
                                    <button type="submit" disabled=move || allow.pending().get()>"Save allow list"</button>
                                </ActionForm>
                            </section>
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn step_up_section(v: &IpRulesView) -> impl IntoView {
    match v.step_up_valid_until {
        Some(until) => Either::Left(view! {
            <p class="notice ok" role="status">"Confirmed until " {format_utc(until)} "."</p>
        }),
        None => Either::Right(view! {
            <section aria-labelledby="confirm-h">
                <h2 id="confirm-h">"Confirm it's you"</h2>
                <p>"Changing the network rules needs your password" {v.two_factor_enabled.then_some(" and a code")} " again."</p>
                <StepUpForm next="/security/network".to_owned() with_code=v.two_factor_enabled/>
            </section>
        }),
    }
}

fn blocks_table(blocks: Vec<IpBlockView>, remove: ServerAction<RemoveIpBlock>) -> impl IntoView {
    if blocks.is_empty() {
        return Either::Left(view! { <p>"No address is blocked."</p> });
    }
    Either::Right(view! {
        <TableWrap label="Blocked addresses">
            <table>
                <caption class="visually-hidden">"Blocked addresses"</caption>
                <thead><tr><th scope="col">"Address"</th><th scope="col">"Reason"</th><th scope="col">"Until"</th>
                    <th scope="col">"Added"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    {blocks.into_iter().map(|b| {
                        let label = format!("Remove the block on {}", b.cidr);
                        view! {
                            <tr>
                                <td><code>{b.cidr.clone()}</code></td>
                                <td>{b.reason}</td>
                                <td>{match b.expires_at {
                                    Some(at) if b.active => format_utc(at),
                                    Some(at) => format!("ended {}", format_utc(at)),
                                    None => "until removed".to_owned(),
                                }}</td>
                                <td>{format_utc(b.created_at)} " by " {b.created_by}</td>
                                <td>
                                    <ActionForm action=remove attr:class="inline">
                                        <input type="hidden" name="block_id" value=b.id/>
                                        <button type="submit" class="secondary" aria-label=label>"Remove"</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    })
}
