//! `/settings/webhooks/:id` (owners and admins): one endpoint — its state, enabling or disabling it (after a
//! step-up) — and its latest deliveries, each with every attempt (time, status, duration, the answer's first
//! 1 KiB), a delivery sent again with "Redeliver".

use crate::api::webhooks::{get_webhook_deliveries, RedeliverWebhook, SetWebhookEnabled};
use crate::components::{error_notices, Console, ErrorNotice, Hydrated, TableWrap};
use crate::model::{format_utc, WebhookAttemptView, WebhookDeliveriesView, WebhookDeliveryView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let redeliver = ServerAction::<RedeliverWebhook>::new();
    let toggle = ServerAction::<SetWebhookEnabled>::new();
    let data = Resource::new(
        move || (id(), redeliver.version().get(), toggle.version().get()),
        |(id, ..)| get_webhook_deliveries(id),
    );
    let query = use_query_map();
    let redelivered =
        move || query.read().get("redelivered").is_some() || redeliver.value().get().is_some_and(|r| r.is_ok());
    let errors = move || {
        error_notices([redeliver.value().get().and_then(Result::err), toggle.value().get().and_then(Result::err)])
    };
    view! {
        <Title text="Webhook deliveries · Rampart"/>
        <Hydrated/>
        <Console>
            <p><a href="/settings/webhooks">"← Webhooks"</a></p>
            <h1>"Webhook deliveries"</h1>
            {move || redelivered().then(|| view! {
                <p class="notice ok" role="status">"The delivery is on its way again, with the same webhook-id."</p>
            })}
            {errors}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(page(v, redeliver, toggle)),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn page(
    v: WebhookDeliveriesView,
    redeliver: ServerAction<RedeliverWebhook>,
    toggle: ServerAction<SetWebhookEnabled>,
) -> impl IntoView {
    let e = v.endpoint;
    let state = if e.enabled {
        "enabled".to_owned()
    } else {
        format!("disabled: {}", e.disabled_reason.clone().unwrap_or_default())
    };
    let (switch_to, switch_label) = if e.enabled { ("false", "Disable") } else { ("true", "Enable") };
    let endpoint_id = e.id.clone();
    let shown = v.deliveries.len();
    view! {
        <dl class="facts">
            <dt>"URL"</dt><dd><code data-testid="webhook-url">{e.url.clone()}</code></dd>
            <dt>"Description"</dt><dd>{e.description.clone()}</dd>
            <dt>"Events"</dt><dd><code>{e.events.clone()}</code></dd>
            <dt>"State"</dt><dd data-testid="webhook-state">{state}</dd>
            <dt>"Waiting"</dt><dd>{e.pending}</dd>
        </dl>
        <ActionForm action=toggle attr:class="inline">
            <input type="hidden" name="webhook_id" value=e.id.clone()/>
            <input type="hidden" name="enabled" value=switch_to/>
            <button type="submit" class="secondary">{switch_label} " this endpoint"</button>
            <small>" (needs a " <a href=format!("/confirm-access?next=/settings/webhooks/{}", e.id)>"step-up"</a> ")"</small>
        </ActionForm>
        <h2>"Deliveries"</h2>
        <p>{format!("The latest {shown} of {} deliveries, newest event first.", v.total)}</p>
        {if v.deliveries.is_empty() {
            Either::Left(view! { <p>"Nothing delivered yet."</p> })
        } else {
            Either::Right(view! {
                <TableWrap label="Deliveries">
                    <table>
                        <caption class="visually-hidden">"Deliveries"</caption>
                        <thead><tr>
                            <th scope="col">"Event"</th><th scope="col">"webhook-id"</th><th scope="col">"State"</th>
                            <th scope="col">"Attempts"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {v.deliveries.into_iter().map(|d| delivery_row(d, endpoint_id.clone(), redeliver)).collect_view()}
                        </tbody>
                    </table>
                </TableWrap>
            })
        }}
    }
}

fn delivery_row(d: WebhookDeliveryView, endpoint: String, redeliver: ServerAction<RedeliverWebhook>) -> impl IntoView {
    let state = match (d.status.as_str(), d.next_attempt_at) {
        ("pending", Some(at)) => format!("waiting, next attempt {}", format_utc(at)),
        (s, _) => s.to_owned(),
    };
    let label = format!("Redeliver {}", d.id);
    view! {
        <tr>
            <td>{d.action.unwrap_or_else(|| "(no longer kept)".to_owned())}<br/><small>{format!("seq {}", d.seq)}</small></td>
            <td><code>{d.id.clone()}</code></td>
            <td>{state}</td>
            <td>{attempts(d.attempts)}</td>
            <td>
                <ActionForm action=redeliver attr:class="inline">
                    <input type="hidden" name="webhook_id" value=endpoint/>
                    <input type="hidden" name="delivery_id" value=d.id/>
                    <button type="submit" class="secondary" aria-label=label>"Redeliver"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

fn attempts(list: Vec<WebhookAttemptView>) -> impl IntoView {
    if list.is_empty() {
        return Either::Left(view! { <span>"none yet"</span> });
    }
    Either::Right(view! {
        <ol class="attempts">
            {list.into_iter().map(|a| {
                let status = if a.status == 0 { "no answer".to_owned() } else { format!("HTTP {}", a.status) };
                view! {
                    <li>
                        {format!("{} — {status}, {} ms", format_utc(a.attempted_at), a.duration_ms)}
                        <details><summary>"Answer"</summary><pre>{a.response}</pre></details>
                    </li>
                }
            }).collect_view()}
        </ol>
    })
}
