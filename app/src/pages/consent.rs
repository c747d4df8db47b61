//! `/settings/consent` (owners): whether the platform's support may ask to look at the console at all, what an
//! owner may include (the vault's contents, the data exports), who is told besides the owners; and every
//! support request — approve (step-up; hours, what is included), refuse, or end an approved access at once.

use crate::api::support::{get_consent, ApproveSupport, RefuseSupport, RevokeSupport, SetConsent};
use crate::components::{error_notices, Console, ErrorNotice, Hydrated, TableWrap};
use crate::model::{format_utc, ConsentView, SupportRequestView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ConsentPage() -> impl IntoView {
    let set = ServerAction::<SetConsent>::new();
    let approve = ServerAction::<ApproveSupport>::new();
    let refuse = ServerAction::<RefuseSupport>::new();
    let revoke = ServerAction::<RevokeSupport>::new();
    let data = Resource::new(
        move || (set.version().get(), approve.version().get(), refuse.version().get(), revoke.version().get()),
        |_| get_consent(),
    );
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("approved").is_some() {
            Some("Approved: the operator may now open a read-only session until the time shown.")
        } else if q.get("ended").is_some() {
            Some("Support access ended: its session is closed.")
        } else if q.get("saved").is_some() {
            Some("Saved.")
        } else {
            None
        }
    };
    let errors = move || {
        error_notices([
            set.value().get().and_then(Result::err),
            approve.value().get().and_then(Result::err),
            refuse.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
        ])
    };
    view! {
        <Title text="Consent · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Support access and consent"</h1>
            <p>"The platform's support sees nothing of your organisation unless an owner approves a request here: \
                a named operator, for a time you choose (at most 72 hours), read-only, with a banner on every page \
                and every page viewed in your access history. Any owner ends it at once. Approving or changing \
                these settings needs a " <a href="/confirm-access?next=/settings/consent">"step-up"</a> "."</p>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {errors}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(page(v, set, approve, refuse, revoke)),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn page(
    v: ConsentView,
    set: ServerAction<SetConsent>,
    approve: ServerAction<ApproveSupport>,
    refuse: ServerAction<RefuseSupport>,
    revoke: ServerAction<RevokeSupport>,
) -> impl IntoView {
    let (waiting, others): (Vec<_>, Vec<_>) = v.requests.into_iter().partition(|r| r.state == "pending");
    view! {
        <section aria-labelledby="settings-h">
            <h2 id="settings-h">"Consent settings"</h2>
            <ActionForm action=set attr:class="form" attr:aria-label="Consent settings">
                <div class="field check">
                    <input id="support-allowed" name="support_allowed" type="checkbox" value="on" checked=v.allowed/>
                    <label for="support-allowed">"The platform's support may ask for access (off: never)"</label>
                </div>
                <div class="field check">
                    <input id="vault-allowed" name="vault_allowed" type="checkbox" value="on" checked=v.vault_allowed/>
                    <label for="vault-allowed">"An owner may include the vault's contents"</label>
                </div>
                <div class="field check">
                    <input id="exports-allowed" name="exports_allowed" type="checkbox" value="on" checked=v.exports_allowed/>
                    <label for="exports-allowed">"An owner may include the data exports"</label>
                </div>
                <div class="field">
                    <label for="security-contact">"Security contact, also told of every request (the owners always are)"</label>
                    <input id="security-contact" name="security_contact" type="email" value=v.security_contact/>
                </div>
                <button type="submit">"Save consent settings"</button>
            </ActionForm>
        </section>
        <section aria-labelledby="waiting-h">
            <h2 id="waiting-h">"Requests waiting"</h2>
            {if waiting.is_empty() {
                Either::Left(view! { <p>"No request waits."</p> })
            } else {
                Either::Right(waiting.into_iter().map(|r| waiting_request(r, approve, refuse, v.vault_allowed, v.exports_allowed)).collect_view())
            }}
        </section>
        <section aria-labelledby="past-h">
            <h2 id="past-h">"Support access"</h2>
            {if others.is_empty() {
                Either::Left(view! { <p>"None yet."</p> })
            } else {
                Either::Right(decided(others, revoke))
            }}
        </section>
    }
}

fn waiting_request(
    r: SupportRequestView,
    approve: ServerAction<ApproveSupport>,
    refuse: ServerAction<RefuseSupport>,
    vault_allowed: bool,
    exports_allowed: bool,
) -> impl IntoView {
    let hours_id = format!("hours-{}", r.id);
    let vault_id = format!("vault-{}", r.id);
    let exports_id = format!("exports-{}", r.id);
    let (id_a, id_r) = (r.id.clone(), r.id.clone());
    view! {
        <article class="card" aria-label=format!("Request by {}", r.operator)>
            <p><strong>{r.operator.clone()}</strong>" asks for " {r.hours} " hours, " {format_utc(r.created_at)} ": "
                {r.reason.clone()}</p>
            <ActionForm action=approve attr:class="form" attr:aria-label=format!("Approve {}", r.operator)>
                <input type="hidden" name="support_id" value=id_a/>
                <div class="field">
                    <label for=hours_id.clone()>"Hours of access"</label>
                    <input id=hours_id name="hours" type="number" min="1" max=r.hours value=r.hours required/>
                </div>
                {vault_allowed.then(|| view! {
                    <div class="field check">
                        <input id=vault_id.clone() name="include_vault" type="checkbox" value="on"/>
                        <label for=vault_id.clone()>"Include the vault's contents"</label>
                    </div>
                })}
                {exports_allowed.then(|| view! {
                    <div class="field check">
                        <input id=exports_id.clone() name="include_exports" type="checkbox" value="on"/>
                        <label for=exports_id.clone()>"Include the data exports"</label>
                    </div>
                })}
                <button type="submit">"Approve"</button>
            </ActionForm>
            <ActionForm action=refuse attr:class="inline">
                <input type="hidden" name="support_id" value=id_r/>
                <button type="submit" class="secondary">"Refuse"</button>
            </ActionForm>
        </article>
    }
}

fn decided(list: Vec<SupportRequestView>, revoke: ServerAction<RevokeSupport>) -> impl IntoView {
    view! {
        <TableWrap label="Support access">
            <table>
                <caption class="visually-hidden">"Support access"</caption>
                <thead><tr>
                    <th scope="col">"Operator"</th><th scope="col">"Why"</th><th scope="col">"State"</th>
                    <th scope="col">"Includes"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|r| {
                        let state = match (r.state.as_str(), r.until, &r.decided_by) {
                            ("approved", Some(until), Some(by)) => format!("approved by {by} until {}", format_utc(until)),
                            (s, _, Some(by)) => format!("{s} by {by}"),
                            (s, _, None) => s.to_owned(),
                        };
                        let includes = match (r.allow_vault, r.allow_exports) {
                            (true, true) => "console, vault, exports",
                            (true, false) => "console, vault",
                            (false, true) => "console, exports",
                            (false, false) => "console only",
                        };
                        let live = r.state == "approved";
                        let id = r.id.clone();
                        let label = format!("End the support access of {}", r.operator);
                        view! {
                            <tr>
                                <td>{r.operator.clone()}</td>
                                <td>{r.reason.clone()}</td>
                                <td data-testid="support-state">{state}</td>
                                <td>{includes}</td>
                                <td>{live.then(|| view! {
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="support_id" value=id/>
                                        <button type="submit" class="danger" aria-label=label>"End access now"</button>
                                    </ActionForm>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    }
}
