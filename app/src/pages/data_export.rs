//! `/data-export`: download all of the organisation's data (members with the `export` feature). Starting an
//! export needs a step-up within 10 minutes; the archive is built in the background and only its requester may
//! download it, for 24 hours. With JavaScript each export being built polls its progress every two seconds;
//! without it the page refreshes itself (a `<noscript>` meta refresh) and offers a Refresh link.

use crate::api::export::{get_data_export, get_data_exports, StartDataExport};
use crate::components::{ApprovalReason, Console, ErrorNotice, Hydrated, StepUpForm, SteppedUpSignal};
use crate::model::{format_utc, DataExportView, DataExportsView, ExportState};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// How often a page with JavaScript asks for the progress of an export being built.
const POLL: std::time::Duration = std::time::Duration::from_secs(2);

#[component]
pub fn DataExportPage() -> impl IntoView {
    let start = ServerAction::<StartDataExport>::new();
    let stepped_up = SteppedUpSignal(RwSignal::new(0));
    provide_context(stepped_up);
    let refresh = RwSignal::new(0u32);
    let data =
        Resource::new(move || (start.version().get(), stepped_up.0.get(), refresh.get()), |_| get_data_exports());
    let query = use_query_map();
    let notice =
        move || query.read().get("started").map(|_| "The export has started. You will get an email when it is ready.");
    view! {
        <Title text="Data export · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Data export"</h1>
            <p>"One ZIP file with everything Rampart holds for your organisation: its settings, members, roles and \
                grants, API keys (never their secrets), sessions, invitations, network rules, the full access history \
                with its chain values, and every vault file with all its versions, including files in the bin. A \
                signed manifest lists the SHA-256 of every file in it."</p>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {step_up_section(&v)}
                            {start_section(&v, start)}
                            {exports_section(v, refresh)}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Transition>
        </Console>
    }
}

fn step_up_section(v: &DataExportsView) -> impl IntoView {
    match v.step_up_valid_until {
        Some(until) => Either::Left(view! {
            <p class="notice ok" role="status">"Confirmed until " {format_utc(until)} "."</p>
        }),
        None => Either::Right(view! {
            <section aria-labelledby="confirm-h">
                <h2 id="confirm-h">"Confirm it's you"</h2>
                <p>"Starting an export needs your password" {v.two_factor_enabled.then_some(" and a code")} " again."</p>
                <StepUpForm next="/data-export".to_owned() with_code=v.two_factor_enabled/>
            </section>
        }),
    }
}

fn start_section(v: &DataExportsView, start: ServerAction<StartDataExport>) -> impl IntoView {
    let busy = v.busy();
    view! {
        <section aria-labelledby="start-h">
            <h2 id="start-h">"New export"</h2>
            {move || start.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <ActionForm action=start attr:class="form" attr:aria-label="Start a data export">
                <ApprovalReason id="export-reason"/>
                <button type="submit" disabled=move || busy || start.pending().get()>"Export all data"</button>
            </ActionForm>
            {busy.then(|| view! { <p class="hint">"An export is being built; a new one can start when it is done."</p> })}
        </section>
    }
}

fn exports_section(v: DataExportsView, refresh: RwSignal<u32>) -> impl IntoView {
    let busy = v.busy();
    view! {
        <section aria-labelledby="exports-h">
            <h2 id="exports-h">"Exports"</h2>
            {busy.then(|| view! {
                // Without JavaScript the page reloads itself while an export is built; with it, this is inert text.
                <noscript inner_html="<meta http-equiv=\"refresh\" content=\"5\">"></noscript>
                <p><a href="/data-export">"Refresh"</a></p>
            })}
            {if v.exports.is_empty() {
                Either::Left(view! { <p>"No exports yet."</p> })
            } else {
                Either::Right(view! {
                    <ul class="exports">
                        {v.exports.into_iter().map(|e| view! { <ExportItem export=e refresh/> }).collect_view()}
                    </ul>
                })
            }}
        </section>
    }
}

/// One export; while it is built, it polls its progress (with JavaScript) and reloads the list when done.
#[component]
fn ExportItem(export: DataExportView, refresh: RwSignal<u32>) -> impl IntoView {
    let current = RwSignal::new(export);
    Effect::new(move |_| {
        if !current.get_untracked().state.is_busy() {
            return;
        }
        let tick = move || {
            let now = current.get_untracked();
            if !now.state.is_busy() {
                return;
            }
            leptos::task::spawn_local(async move {
                if let Ok(v) = get_data_export(now.id.clone()).await {
                    let finished = !v.state.is_busy();
                    current.set(v);
                    if finished {
                        refresh.update(|n| *n += 1);
                    }
                }
            });
        };
        if let Ok(handle) = set_interval_with_handle(tick, POLL) {
            on_cleanup(move || handle.clear());
        }
    });
    view! { <li class="export">{move || item_view(current.get())}</li> }
}

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn item_view(e: DataExportView) -> impl IntoView {
    let header = format!("{} · requested by {} on {}", e.state.label(), e.requested_by, format_utc(e.created_at));
    let body = match e.state {
        ExportState::Queued | ExportState::Running => {
            let (value, max) = if e.total_bytes > 0 {
                (e.done_bytes, e.total_bytes)
            } else {
                (e.done_entries, e.total_entries.max(1))
            };
            let label = format!(
                "{} of {} files, {} of {}",
                e.done_entries,
                e.total_entries,
                mib(e.done_bytes),
                mib(e.total_bytes)
            );
            Either::Left(view! {
                <progress max=max value=value aria-label="Export progress"></progress>
                <span role="status">{label}</span>
            })
        }
        ExportState::Ready => Either::Right(Either::Left({
            let until = e.expires_at.map(format_utc).unwrap_or_default();
            let size = e.size.map(mib).unwrap_or_default();
            let link = e.mine.then(|| {
                view! { <a href=format!("/data-export/{}/download", e.id) download="">"Download the ZIP"</a> " " }
            });
            view! {
                <p>{link}{format!("{size}, until {until}.")}
                {(!e.mine).then_some(" Only the member who asked for it can download it.")}</p>
            }
        })),
        ExportState::Failed | ExportState::Expired => Either::Right(Either::Right(view! {
            <p class="hint">{e.error.clone().unwrap_or_else(|| "The download is no longer available.".to_owned())}</p>
        })),
    };
    view! { <p><strong>{header}</strong></p> {body} }
}
