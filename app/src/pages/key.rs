//! `/keys/:id`: one API key — its guardrails, where its current and previous secrets are used from (so an
//! admin sees when clients have moved after a roll), and roll, end-of-grace, change and revoke.

use super::keys::{kind_label, scopes_text, status_class};
use crate::api::keys::{get_key, take_fresh_key, EndKeyGrace, RevokeKey, RollKey, UpdateKey};
use crate::api::panic::UnfreezeKey;
use crate::components::{error_notices, Console, ErrorNotice, FreshSecret, Hydrated, TableWrap};
use crate::model::{format_utc, Access, ApiResource, KeyDetailView, KeyKind, KeyStatus, KeyUsageView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Grace choices for a roll: seconds and words.
const GRACE: [(i64, &str); 6] = [
    (0, "no grace: the old secret stops now"),
    (3_600, "1 hour"),
    (86_400, "24 hours"),
    (604_800, "7 days"),
    (1_209_600, "14 days"),
    (2_592_000, "30 days"),
];

#[component]
pub fn KeyPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let roll = ServerAction::<RollKey>::new();
    let end_grace = ServerAction::<EndKeyGrace>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let update = ServerAction::<UpdateKey>::new();
    let unfreeze = ServerAction::<UnfreezeKey>::new();
    let data = Resource::new(
        move || {
            (
                id(),
                roll.version().get(),
                end_grace.version().get(),
                revoke.version().get(),
                update.version().get() + unfreeze.version().get(),
            )
        },
        |(id, ..)| get_key(id),
    );
    let fresh = Resource::new(move || roll.version().get(), |_| take_fresh_key());
    let query = use_query_map();
    let errors = move || {
        error_notices([
            roll.value().get().and_then(Result::err),
            end_grace.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
            update.value().get().and_then(Result::err),
            unfreeze.value().get().and_then(Result::err),
        ])
    };
    view! {
        <Title text="API key · Rampart"/>
        <Hydrated/>
        <Console>
            <p><a href="/keys">"← All keys"</a></p>
            {move || query.read().get("saved").map(|_| view! {
                <p class="notice ok" role="status">"The key's guardrails were saved."</p>
            })}
            {errors}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    fresh.await.ok().flatten().map(|f| view! { <FreshSecret fresh=f/> })
                })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {frozen_notice(&v, unfreeze)}
                            {key_view(v, roll, end_grace, revoke, update)}
                        }),
                        Err(e) => Either::Right(view! { <h1>"API key"</h1><ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn usage_table(label: &'static str, rows: Vec<KeyUsageView>) -> impl IntoView {
    if rows.is_empty() {
        return Either::Left(view! { <p>"No use recorded."</p> });
    }
    Either::Right(view! {
        <TableWrap label=label>
            <table aria-label=label>
                <thead><tr><th scope="col">"IP address"</th><th scope="col">"User agent"</th>
                    <th scope="col">"Last used"</th><th scope="col">"First used"</th><th scope="col">"Requests"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|u| view! {
                        <tr><td><code>{u.ip}</code></td><td>{u.user_agent}</td><td>{format_utc(u.last_used_at)}</td>
                            <td>{format_utc(u.first_used_at)}</td><td>{u.uses}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    })
}

/// A frozen key says so, and an admin may unfreeze it (step-up).
fn frozen_notice(v: &KeyDetailView, unfreeze: ServerAction<UnfreezeKey>) -> Option<impl IntoView> {
    (v.key.status == KeyStatus::Frozen).then(|| {
        let id = v.key.id.clone();
        view! {
            <p class="notice warn" role="status">"This key is frozen (panic button): every request with it is refused until it is unfrozen."</p>
            {v.key.can_manage.then(|| view! {
                <ActionForm action=unfreeze attr:class="inline" attr:aria-label="Unfreeze the key">
                    <input type="hidden" name="key_id" value=id/>
                    <button type="submit">"Unfreeze"</button>
                </ActionForm>
            })}
        }
    })
}

fn key_view(
    v: KeyDetailView,
    roll: ServerAction<RollKey>,
    end_grace: ServerAction<EndKeyGrace>,
    revoke: ServerAction<RevokeKey>,
    update: ServerAction<UpdateKey>,
) -> impl IntoView {
    let k = v.key;
    let id = k.id.clone();
    let scopes = scopes_text(&k);
    let kind = kind_label(&k);
    let manage = k.can_manage;
    let restricted = k.kind == KeyKind::Restricted;
    let access_of = |r: ApiResource| k.scopes.access(r);
    let scope_fields = ApiResource::ALL
        .into_iter()
        .map(|r| {
            let name = format!("scope_{}", r.as_str());
            let field_id = format!("edit-{name}");
            let current = access_of(r);
            view! {
                <div class="field">
                    <label for=field_id.clone()>{r.title()}</label>
                    <select id=field_id name=name>
                        {[Access::None, Access::Read, Access::Write].into_iter().map(|a| view! {
                            <option value=a.as_str() selected=a == current>{a.as_str()}</option>
                        }).collect_view()}
                    </select>
                </div>
            }
        })
        .collect_view();
    let days_left = k.expires_in_days.max(1);
    view! {
        <h1>"API key “" {k.description.clone()} "”"</h1>
        {(v.failed_attempts > 0).then(|| {
            let last = v.last_failure.clone().map(|(at, ip)| format!(", the last {} from {ip}", format_utc(at))).unwrap_or_default();
            view! {
                <p class="notice warn" role="status" data-testid="key-attempts">
                    {format!("{} failed attempt(s) in a row against this key with a wrong secret{last}. ", v.failed_attempts)}
                    "Someone may be guessing it: roll it if it may have leaked."
                </p>
            }
        })}
        {v.first_format.then(|| view! {
            <p class="notice" role="status">"This key's text carries no public id (an older format), so failed \
                attempts against it cannot be counted. Roll it to get the new format."</p>
        })}
        <dl class="facts">
            <dt>"Kind"</dt><dd>{kind}</dd>
            <dt>"Key"</dt><dd><code>{k.display_prefix.clone()} "…"</code></dd>
            <dt>"Status"</dt><dd><span class=status_class(k.status)>{k.status.label()}</span></dd>
            <dt>"Scopes"</dt><dd>{scopes}</dd>
            <dt>"Owner"</dt><dd>{k.owner_email.clone()}</dd>
            <dt>"Created"</dt><dd>{format_utc(k.created_at)}</dd>
            <dt>"Last rolled"</dt><dd>{k.rolled_at.map(format_utc).unwrap_or_else(|| "never".to_owned())}</dd>
            <dt>"Expires"</dt><dd>{format_utc(k.expires_at)}</dd>
            <dt>"Allowed IPs"</dt><dd>{if k.allowed_ips.is_empty() { "any".to_owned() } else { k.allowed_ips.join(", ") }}</dd>
            <dt>"Allowed referers"</dt><dd>{if k.allowed_referers.is_empty() { "any".to_owned() } else { k.allowed_referers.join(", ") }}</dd>
            <dt>"Hourly limit per IP"</dt><dd>{k.rate_per_hour.map(|r| r.to_string()).unwrap_or_else(|| "none".to_owned())}</dd>
            <dt>"Machines only"</dt><dd>{if k.machines_only { "yes: only from an enrolled machine's certificate" } else { "no" }}</dd>
            <dt>"Last used"</dt><dd>{match (k.last_used_at, k.last_used_ip.clone()) {
                (Some(at), Some(ip)) => format!("{} from {ip} ({})", format_utc(at), k.last_used_user_agent.clone().unwrap_or_default()),
                _ => "never".to_owned(),
            }}</dd>
        </dl>
        {k.previous_ends_at.map(|ends| {
            let id = id.clone();
            view! {
                <section aria-labelledby="old-h">
                    <h2 id="old-h">"Old secret " <code>{k.previous_prefix.clone().unwrap_or_default()} "…"</code></h2>
                    <p>"It keeps working until " {format_utc(ends)}
                       ". Clients still using it since the roll:"</p>
                    {usage_table("Old secret use", v.previous_usage.clone())}
                    {manage.then(|| view! {
                        <ActionForm action=end_grace attr:aria-label="End the grace">
                            <input type="hidden" name="key_id" value=id/>
                            <button type="submit" class="secondary">"Stop the old secret now"</button>
                        </ActionForm>
                    })}
                </section>
            }
        })}
        {(k.previous_ends_at.is_none() && !v.previous_usage.is_empty()).then(|| view! {
            <section aria-labelledby="prev-h">
                <h2 id="prev-h">"Previous secret (no longer accepted)"</h2>
                {usage_table("Previous secret use", v.previous_usage.clone())}
            </section>
        })}
        <section aria-labelledby="use-h">
            <h2 id="use-h">"Where the current secret is used from"</h2>
            {usage_table("Current secret use", v.current_usage)}
        </section>
        {manage.then(|| {
            let id_roll = id.clone();
            let id_edit = id.clone();
            let id_revoke = id.clone();
            view! {
                <section aria-labelledby="roll-h">
                    <h2 id="roll-h">"Roll the key"</h2>
                    <p>"A new secret replaces this one. Give clients time to move: the old secret keeps working for the grace you choose, and this page shows who still uses it."</p>
                    <ActionForm action=roll attr:class="form" attr:aria-label="Roll the key">
                        <input type="hidden" name="key_id" value=id_roll/>
                        <div class="field">
                            <label for="grace">"Old secret keeps working for"</label>
                            <select id="grace" name="grace_seconds">
                                {GRACE.into_iter().map(|(s, label)| view! {
                                    <option value=s.to_string() selected=s == 86_400>{label}</option>
                                }).collect_view()}
                            </select>
                        </div>
                        <button type="submit" disabled=move || roll.pending().get()>"Roll key"</button>
                    </ActionForm>
                </section>
                <section aria-labelledby="edit-h">
                    <h2 id="edit-h">"Change guardrails"</h2>
                    <ActionForm action=update attr:class="form" attr:aria-label="Change guardrails">
                        <input type="hidden" name="key_id" value=id_edit/>
                        <div class="field">
                            <label for="edit-description">"Description"</label>
                            <input id="edit-description" name="description" required maxlength="200" value=k.description.clone()/>
                        </div>
                        <div class="field">
                            <label for="edit-expiry">"Expires after (days from now)"</label>
                            <input id="edit-expiry" name="expires_in_days" type="number" min="1" value=days_left.to_string()/>
                        </div>
                        {restricted.then(|| view! { <fieldset class="scopes"><legend>"Scopes"</legend>{scope_fields}</fieldset> })}
                        <div class="field">
                            <label for="edit-ips">"Allowed IP addresses"</label>
                            <textarea id="edit-ips" name="allowed_ips" rows="2">{k.allowed_ips.join("\n")}</textarea>
                        </div>
                        <div class="field">
                            <label for="edit-referers">"Allowed HTTP referers (can be forged; for browser read keys)"</label>
                            <textarea id="edit-referers" name="allowed_referers" rows="2">{k.allowed_referers.join("\n")}</textarea>
                        </div>
                        <div class="field">
                            <label for="edit-rate">"Requests per hour per client IP"</label>
                            <input id="edit-rate" name="rate_per_hour" type="number" min="1"
                                value=k.rate_per_hour.map(|r| r.to_string()).unwrap_or_default()/>
                        </div>
                        <div class="field check">
                            <input id="edit-machines-only" name="machines_only" type="checkbox" value="on" checked=k.machines_only/>
                            <label for="edit-machines-only">"Machines only (an enrolled machine's certificate)"</label>
                        </div>
                        <p class="hint">"Saving needs you to " <a href=format!("/confirm-access?next=/keys/{}", k.id)>"confirm it's you"</a> "."</p>
                        <button type="submit" disabled=move || update.pending().get()>"Save guardrails"</button>
                    </ActionForm>
                </section>
                <section aria-labelledby="revoke-h">
                    <h2 id="revoke-h">"Revoke"</h2>
                    <p>"Both secrets stop working at once. This cannot be undone."</p>
                    <ActionForm action=revoke attr:aria-label="Revoke the key">
                        <input type="hidden" name="key_id" value=id_revoke/>
                        <button type="submit" class="danger">"Revoke key"</button>
                    </ActionForm>
                </section>
            }
        })}
    }
}
