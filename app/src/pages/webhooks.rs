//! `/settings/webhooks` (owners and admins): the organisation's webhook endpoints — each with the events it
//! wants, its state, what waits and its last attempt (every delivery on the endpoint's own page, `webhook`) —
//! adding one (its signing secret shown once) and removing one, both after a step-up.

use crate::api::webhooks::{
    list_webhooks, take_fresh_webhook_secret, CreateWebhook, DeleteWebhook, RotateWebhookSecret, SendWebhookTest,
};
use crate::components::{Console, ErrorNotice, Hydrated, TableWrap};
use crate::model::{format_utc, AppError, FreshWebhookSecret, WebhookEndpointView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let test = ServerAction::<SendWebhookTest>::new();
    let data = Resource::new(
        move || (create.version().get(), delete.version().get(), rotate.version().get(), test.version().get()),
        |_| list_webhooks(),
    );
    let fresh =
        Resource::new(move || (create.version().get(), rotate.version().get()), |_| take_fresh_webhook_secret());
    let query = use_query_map();
    let deleted = move || query.read().get("deleted").is_some();
    let tested = move || query.read().get("tested").is_some();
    let error_of =
        move |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> });
    view! {
        <Title text="Webhooks · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Webhooks"</h1>
            <p>"Security events of the organisation, sent as they happen to your endpoints (a SIEM, an alerting \
                tool), signed as the Standard Webhooks specification says: check the " <code>"webhook-signature"</code>
                " header with the endpoint's secret before trusting a delivery. Adding or removing an endpoint \
                needs a " <a href="/confirm-access?next=/settings/webhooks">"step-up"</a> " within 10 minutes."</p>
            {move || deleted().then(|| view! { <p class="notice ok" role="status">"The endpoint was removed."</p> })}
            {move || tested().then(|| view! {
                <p class="notice ok" role="status">"A test event is on its way: its attempt shows below within seconds."</p>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    fresh.await.ok().flatten().map(fresh_secret)
                })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {move || error_of(delete.value().get())}
                            {move || error_of(rotate.value().get())}
                            {move || error_of(test.value().get())}
                            {endpoints_table(v.endpoints, delete, rotate, test)}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
            <section aria-labelledby="add-h">
                <h2 id="add-h">"Add an endpoint"</h2>
                {move || error_of(create.value().get())}
                <ActionForm action=create attr:class="form" attr:aria-label="Add a webhook endpoint">
                    <div class="field">
                        <label for="url">"URL (https://, a public address)"</label>
                        <input id="url" name="url" type="url" required maxlength="2000" spellcheck="false"/>
                    </div>
                    <div class="field">
                        <label for="description">"Description"</label>
                        <input id="description" name="description" type="text" maxlength="200"/>
                    </div>
                    <div class="field">
                        <label for="events">"Events: * for all, or families such as sign_in,key,member,vault"</label>
                        <input id="events" name="events" type="text" required value="*" spellcheck="false"/>
                    </div>
                    <button type="submit" disabled=move || create.pending().get()>"Add endpoint"</button>
                </ActionForm>
            </section>
        </Console>
    }
}

fn fresh_secret(f: FreshWebhookSecret) -> impl IntoView {
    view! {
        <section class="notice ok" role="status" aria-labelledby="secret-h">
            <h2 id="secret-h">"The signing secret of " {f.url}</h2>
            <p>"Copy it now into the receiver: it is not shown again."</p>
            <p><code data-testid="webhook-secret">{f.secret}</code></p>
        </section>
    }
}

fn endpoints_table(
    endpoints: Vec<WebhookEndpointView>,
    delete: ServerAction<DeleteWebhook>,
    rotate: ServerAction<RotateWebhookSecret>,
    test: ServerAction<SendWebhookTest>,
) -> impl IntoView {
    if endpoints.is_empty() {
        return Either::Left(view! { <p>"No endpoint yet."</p> });
    }
    Either::Right(view! {
        <TableWrap label="Webhook endpoints">
            <table>
                <caption class="visually-hidden">"Webhook endpoints"</caption>
                <thead><tr>
                    <th scope="col">"URL"</th><th scope="col">"Events"</th><th scope="col">"State"</th>
                    <th scope="col">"Waiting"</th><th scope="col">"Last attempt"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {endpoints.into_iter().map(|e| {
                        let label = format!("Remove the endpoint {}", e.url);
                        let rotate_label = format!("New secret for {}", e.url);
                        let overlap_id = format!("overlap-{}", e.id);
                        let (id_rotate, id_delete, id_test) = (e.id.clone(), e.id.clone(), e.id.clone());
                        let test_label = format!("Send a test event to {}", e.url);
                        let state = if e.enabled {
                            "enabled".to_owned()
                        } else {
                            format!("disabled: {}", e.disabled_reason.clone().unwrap_or_default())
                        };
                        let last = e.last_attempt.clone().map(|(at, status, answer)| {
                            let status = if status == 0 { "no answer".to_owned() } else { format!("HTTP {status}") };
                            format!("{} — {status} {}", format_utc(at), answer.chars().take(120).collect::<String>())
                        });
                        view! {
                            <tr>
                                <td>
                                    <a href=format!("/settings/webhooks/{}", e.id)><code>{e.url.clone()}</code></a>
                                    <br/><small>{e.description.clone()}</small>
                                </td>
                                <td><code>{e.events.clone()}</code></td>
                                <td>{state}</td>
                                <td>{e.pending}</td>
                                <td>{last.unwrap_or_else(|| "none yet".to_owned())}</td>
                                <td>
                                    <ActionForm action=test attr:class="inline">
                                        <input type="hidden" name="webhook_id" value=id_test/>
                                        <button type="submit" class="secondary" aria-label=test_label>"Send a test event"</button>
                                    </ActionForm>
                                    <ActionForm action=rotate attr:class="inline">
                                        <input type="hidden" name="webhook_id" value=id_rotate/>
                                        <label for=overlap_id.clone()>"Keep the old secret (hours)"</label>
                                        <input id=overlap_id name="overlap_hours" type="number" min="0" max="168" value="24"/>
                                        <button type="submit" class="secondary" aria-label=rotate_label>"New secret"</button>
                                    </ActionForm>
                                    <ActionForm action=delete attr:class="inline">
                                        <input type="hidden" name="webhook_id" value=id_delete/>
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
