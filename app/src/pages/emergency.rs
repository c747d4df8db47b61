//! `/security/emergency`: the panic button (owners press it; admins see its state) and the undo for the keys
//! it froze. Pressing needs a step-up within 10 minutes and the word PANIC typed out.

use crate::api::panic::{get_panic, PressPanicButton, UndoPanic};
use crate::components::{Console, ErrorNotice, Hydrated, StepUpForm, SteppedUpSignal};
use crate::model::{format_utc, AppError, PanicView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn EmergencyPage() -> impl IntoView {
    let press = ServerAction::<PressPanicButton>::new();
    let undo = ServerAction::<UndoPanic>::new();
    let stepped_up = SteppedUpSignal(RwSignal::new(0));
    provide_context(stepped_up);
    let data =
        Resource::new(move || (press.version().get(), undo.version().get(), stepped_up.0.get()), |_| get_panic());
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("pressed").is_some() {
            Some("Done. Every other session is signed out, the keys are stopped, and every member needs a second factor at the next sign-in.")
        } else if q.get("undone").is_some() {
            Some("The frozen keys work again.")
        } else {
            None
        }
    };
    let error_of =
        move |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> });
    view! {
        <Title text="Emergency · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Emergency"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {last_press(&v)}
                            {v.can_press.then(|| view! {
                                {step_up(&v)}
                                <section aria-labelledby="panic-h">
                                    <h2 id="panic-h">"Panic button"</h2>
                                    <p>"If you think the organisation is compromised, this stops it at once, in one step:"</p>
                                    <ul>
                                        <li>{format!("the {} API key(s) that can change data are frozen or revoked (read-only keys and canaries keep working);", v.write_keys)}</li>
                                        <li>"every session of every member is signed out, except this one;"</li>
                                        <li>"two-factor authentication becomes required: everyone signs in again with a code, and members without an authenticator set one up first."</li>
                                    </ul>
                                    {move || error_of(press.value().get())}
                                    <ActionForm action=press attr:class="form" attr:aria-label="Panic button">
                                        <fieldset>
                                            <legend>"API keys that can change data"</legend>
                                            <div class="field check">
                                                <input id="keys_freeze" name="keys" type="radio" value="freeze" checked/>
                                                <label for="keys_freeze">"Freeze them (you can unfreeze them later)"</label>
                                            </div>
                                            <div class="field check">
                                                <input id="keys_revoke" name="keys" type="radio" value="revoke"/>
                                                <label for="keys_revoke">"Revoke them (for good)"</label>
                                            </div>
                                        </fieldset>
                                        <div class="field">
                                            <label for="confirm">"Type PANIC to confirm"</label>
                                            <input id="confirm" name="confirm" type="text" required autocomplete="off"
                                                pattern="PANIC" spellcheck="false" autocapitalize="characters"/>
                                        </div>
                                        <button type="submit" class="danger" disabled=move || press.pending().get()>"Press the panic button"</button>
                                    </ActionForm>
                                </section>
                            })}
                            {(!v.frozen_keys.is_empty()).then(|| view! {
                                <section aria-labelledby="frozen-h">
                                    <h2 id="frozen-h">"Frozen keys"</h2>
                                    <ul>
                                        {v.frozen_keys.iter().map(|(prefix, id)| view! {
                                            <li><a href=format!("/keys/{id}")><code>{prefix.clone()}</code></a></li>
                                        }).collect_view()}
                                    </ul>
                                    {move || error_of(undo.value().get())}
                                    {v.can_press.then(|| view! {
                                        <ActionForm action=undo attr:class="inline">
                                            <button type="submit">"Unfreeze all frozen keys"</button>
                                        </ActionForm>
                                    })}
                                </section>
                            })}
                            {(!v.can_press).then(|| view! {
                                <p>"Only an owner of the organisation can press the panic button."</p>
                            })}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn last_press(v: &PanicView) -> Option<impl IntoView> {
    v.last_panic.clone().map(|(at, detail)| {
        view! {
            <section aria-labelledby="last-h">
                <h2 id="last-h">"Last pressed"</h2>
                <p>{format_utc(at)}</p>
                <p class="hint">{detail}</p>
            </section>
        }
    })
}

fn step_up(v: &PanicView) -> impl IntoView {
    match v.step_up_valid_until {
        Some(until) => Either::Left(view! {
            <p class="notice ok" role="status">"Confirmed until " {format_utc(until)} "."</p>
        }),
        None => Either::Right(view! {
            <section aria-labelledby="confirm-h">
                <h2 id="confirm-h">"Confirm it's you"</h2>
                <p>"The panic button needs your password" {v.two_factor_enabled.then_some(" and a code")} " again."</p>
                <StepUpForm next="/security/emergency".to_owned() with_code=v.two_factor_enabled/>
            </section>
        }),
    }
}
