//! `/settings/approvals` (owners and admins): whether the riskiest acts need a second admin's approval (owners
//! turn it on, with a step-up; turning it off is itself approved by another admin), the requests that wait —
//! who asked, for what, why, until when — with approve (step-up), refuse or cancel, and the latest decisions.
//! The secret of one's own approved master key shows here, once.

use crate::api::approvals::{
    get_approvals, take_approved_key, ApproveRequest, CancelRequest, RefuseRequest, SetFourEyes,
};
use crate::components::{error_notices, Console, ErrorNotice, FreshSecret, Hydrated, TableWrap};
use crate::model::{format_utc, ApprovalView, ApprovalsView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The acts a second admin approves when the organisation requires it.
const GUARDED: [&str; 7] = [
    "creating a master API key",
    "turning the two-factor requirement off",
    "lowering the access-history retention",
    "starting a data export",
    "erasing a member",
    "deleting a webhook endpoint",
    "turning this requirement off",
];

#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let set = ServerAction::<SetFourEyes>::new();
    let approve = ServerAction::<ApproveRequest>::new();
    let refuse = ServerAction::<RefuseRequest>::new();
    let cancel = ServerAction::<CancelRequest>::new();
    let data = Resource::new(
        move || (set.version().get(), approve.version().get(), refuse.version().get(), cancel.version().get()),
        |_| get_approvals(),
    );
    let fresh = Resource::new(move || approve.version().get(), |_| take_approved_key());
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("requested").is_some() {
            Some("Your request waits for another owner or admin: they were told by email. It expires in 24 hours.")
        } else if q.get("approved").is_some() || approve.value().get().is_some_and(|r| r.is_ok()) {
            Some("Approved: the act ran (see its outcome below).")
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
            cancel.value().get().and_then(Result::err),
        ])
    };
    view! {
        <Title text="Approvals · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Approvals"</h1>
            <p>"With four-eyes approval on, these acts wait for a second owner or admin — never the one who asked — \
                and run when approved, recorded with both names: " {GUARDED.join("; ")} "."</p>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {errors}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    fresh.await.ok().flatten().map(|f| view! { <FreshSecret fresh=f/> })
                })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(page(v, set, approve, refuse, cancel)),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn page(
    v: ApprovalsView,
    set: ServerAction<SetFourEyes>,
    approve: ServerAction<ApproveRequest>,
    refuse: ServerAction<RefuseRequest>,
    cancel: ServerAction<CancelRequest>,
) -> impl IntoView {
    let state = if v.required { "on" } else { "off" };
    let single = v.admins < 2;
    view! {
        <section aria-labelledby="setting-h">
            <h2 id="setting-h">"Four-eyes approval is " <span data-testid="four-eyes">{state}</span></h2>
            {single.then(|| view! {
                <p>"You have one owner or admin: a second one must exist to approve anything, so this cannot be \
                    turned on yet."</p>
            })}
            {v.is_owner.then(|| view! {
                <ActionForm action=set attr:class="form" attr:aria-label="Four-eyes approval">
                    <input type="hidden" name="required" value=if v.required { "off" } else { "on" }/>
                    <div class="field">
                        <label for="four-eyes-reason">"Reason (shown to the approving admin)"</label>
                        <input id="four-eyes-reason" name="reason" type="text" maxlength="500"/>
                    </div>
                    <button type="submit">{if v.required { "Turn off (needs approval)" } else { "Turn on" }}</button>
                    <small>" Needs a " <a href="/confirm-access?next=/settings/approvals">"step-up"</a> "."</small>
                </ActionForm>
            })}
        </section>
        <section aria-labelledby="waiting-h">
            <h2 id="waiting-h">"Waiting"</h2>
            {if v.waiting.is_empty() {
                Either::Left(view! { <p>"Nothing waits for approval."</p> })
            } else {
                Either::Right(requests(v.waiting, Some((approve, refuse, cancel))))
            }}
        </section>
        <section aria-labelledby="decided-h">
            <h2 id="decided-h">"Decided"</h2>
            {if v.decided.is_empty() {
                Either::Left(view! { <p>"No decision yet."</p> })
            } else {
                Either::Right(requests(v.decided, None))
            }}
        </section>
    }
}

type Acts = (ServerAction<ApproveRequest>, ServerAction<RefuseRequest>, ServerAction<CancelRequest>);

fn requests(list: Vec<ApprovalView>, acts: Option<Acts>) -> impl IntoView {
    view! {
        <TableWrap label="Requests">
            <table>
                <caption class="visually-hidden">"Requests"</caption>
                <thead><tr>
                    <th scope="col">"Act"</th><th scope="col">"Asked by"</th><th scope="col">"Why"</th>
                    <th scope="col">"When"</th><th scope="col">"State"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|r| row(r, acts)).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    }
}

fn row(r: ApprovalView, acts: Option<Acts>) -> impl IntoView {
    let state = match (&r.decided_by, r.decided_at) {
        (Some(by), Some(at)) => format!("{} by {by}, {}", r.state, format_utc(at)),
        _ if r.state == "pending" => format!("waiting until {}", format_utc(r.expires_at)),
        _ => r.state.clone(),
    };
    let outcome = r.outcome.clone().map(|o| view! { <br/><small>{o}</small> });
    let buttons = acts.map(|(approve, refuse, cancel)| {
        let id = r.id.clone();
        if r.mine {
            Either::Left(view! {
                <ActionForm action=cancel attr:class="inline">
                    <input type="hidden" name="approval_id" value=id/>
                    <button type="submit" class="secondary">"Cancel my request"</button>
                </ActionForm>
            })
        } else {
            let id2 = id.clone();
            let label = format!("Approve: {}", r.summary);
            Either::Right(view! {
                <ActionForm action=approve attr:class="inline">
                    <input type="hidden" name="approval_id" value=id/>
                    <button type="submit" aria-label=label>"Approve"</button>
                </ActionForm>
                <ActionForm action=refuse attr:class="inline">
                    <input type="hidden" name="approval_id" value=id2/>
                    <button type="submit" class="secondary">"Refuse"</button>
                </ActionForm>
            })
        }
    });
    view! {
        <tr>
            <td>{r.summary.clone()}</td>
            <td>{r.requested_by.clone()}</td>
            <td>{if r.reason.is_empty() { "—".to_owned() } else { r.reason.clone() }}</td>
            <td>{format_utc(r.created_at)}</td>
            <td>{state}{outcome}</td>
            <td>{buttons}</td>
        </tr>
    }
}
