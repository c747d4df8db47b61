//! `/organisation/closure`: closing the organisation ("erase us"). Owners ask for it (step-up, the name typed)
//! and may cancel during the 14 days that follow; while it is pending this is the only console page that
//! opens (the session gate sends every other page here), and every member sees the date.

use crate::api::closure::{get_closure, CancelClosure, RequestClosure};
use crate::components::{Console, ErrorNotice, Hydrated, StepUpForm, SteppedUpSignal};
use crate::model::{format_utc, AppError, ClosureView};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ClosurePage() -> impl IntoView {
    let request = ServerAction::<RequestClosure>::new();
    let cancel = ServerAction::<CancelClosure>::new();
    let stepped_up = SteppedUpSignal(RwSignal::new(0));
    provide_context(stepped_up);
    let data =
        Resource::new(move || (request.version().get(), cancel.version().get(), stepped_up.0.get()), |_| get_closure());
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("cancelled").is_some() {
            Some("The closure was cancelled. Everything works again; every member was told by email.")
        } else {
            None
        }
    };
    let error_of =
        move |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> });
    view! {
        <Title text="Close the organisation · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Close the organisation"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(match v.closes_at {
                            Some(at) => EitherOf3::A(view! {
                                <p class="notice error" role="alert">
                                    {format!("{} is closing on {}. ", v.tenant_name, format_utc(at))}
                                    "Then the organisation and all its data are deleted for good. Until then nothing \
                                     else in the console or the API works."
                                </p>
                                {v.requested_at.map(|r| view! { <p class="hint">"Requested " {format_utc(r)} "."</p> })}
                                {if v.can_act {
                                    Either::Left(view! {
                                        {move || error_of(cancel.value().get())}
                                        <ActionForm action=cancel attr:class="form" attr:aria-label="Cancel the closure">
                                            <button type="submit">"Cancel the closure"</button>
                                        </ActionForm>
                                    })
                                } else {
                                    Either::Right(view! { <p>"An owner of the organisation can cancel the closure."</p> })
                                }}
                            }),
                            None if v.can_act => EitherOf3::B(request_form(&v, request)),
                            None => EitherOf3::C(view! {
                                <p>"Only an owner of the organisation can close it."</p>
                            }),
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn request_form(v: &ClosureView, request: ServerAction<RequestClosure>) -> impl IntoView {
    let step_up = match v.step_up_valid_until {
        Some(until) => Either::Left(view! {
            <p class="notice ok" role="status">"Confirmed until " {format_utc(until)} "."</p>
        }),
        None => Either::Right(view! {
            <section aria-labelledby="confirm-h">
                <h2 id="confirm-h">"Confirm it's you"</h2>
                <p>"Closing the organisation needs your password" {v.two_factor_enabled.then_some(" and a code")} " again."</p>
                <StepUpForm next="/organisation/closure".to_owned() with_code=v.two_factor_enabled/>
            </section>
        }),
    };
    let name = v.tenant_name.clone();
    view! {
        {step_up}
        <section aria-labelledby="close-h">
            <h2 id="close-h">"Close and erase the organisation"</h2>
            <p>"Every member and the security contact are emailed at once. For 14 days the console and the API \
                are closed to everyone and an owner can still cancel; then the organisation, its members, API keys, \
                access history and vault are deleted for good (accounts that belong to no other organisation too)."</p>
            {move || request.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <ActionForm action=request attr:class="form" attr:aria-label="Close the organisation">
                <div class="field">
                    <label for="confirm">{format!("Type the organisation's name ({name}) to confirm")}</label>
                    <input id="confirm" name="confirm" type="text" required autocomplete="off" spellcheck="false"/>
                </div>
                <button type="submit" class="danger" disabled=move || request.pending().get()>"Close the organisation"</button>
            </ActionForm>
        </section>
    }
}
