//! `/keys`: the organisation's API keys (an admin sees all, a member their own), the secret of a key just
//! made (once), the form to make one with any guardrails, and the organisation's key policy.

use crate::api::keys::{get_keys, take_fresh_key, CreateKey, SetKeyPolicy};
use crate::components::{error_notices, ApprovalReason, Console, ErrorNotice, FreshSecret, Hydrated, TableWrap};
use crate::model::{format_utc, Access, KeyFilter, KeyKind, KeyStatus, KeyView, KeysView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// How the console names a kind.
pub fn kind_title(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Master => "Master — everything, key management included",
        KeyKind::Write => "Write — read and change every resource",
        KeyKind::Read => "Read — read every resource",
        KeyKind::Restricted => "Restricted — only the scopes you choose",
        KeyKind::Canary => "Canary — a trap: never works, any use alerts",
    }
}

/// The kind as a list shows it (a canary with its disguise).
pub fn kind_label(k: &KeyView) -> String {
    match k.kind {
        KeyKind::Canary => format!("canary (looks like {})", k.label),
        other => other.as_str().to_owned(),
    }
}

/// The status badge class.
pub fn status_class(s: KeyStatus) -> &'static str {
    match s {
        KeyStatus::Active => "badge ok",
        KeyStatus::Due => "badge warn",
        _ => "badge off",
    }
}

/// Scopes in words.
pub fn scopes_text(k: &KeyView) -> String {
    let parts: Vec<String> = crate::model::ApiResource::ALL
        .into_iter()
        .filter(|r| k.scopes.access(*r) != Access::None)
        .map(|r| format!("{}: {}", r.title(), k.scopes.access(r).as_str()))
        .collect();
    if k.kind == KeyKind::Master {
        "everything, key management included".to_owned()
    } else if parts.is_empty() {
        "nothing".to_owned()
    } else {
        parts.join(", ")
    }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let policy = ServerAction::<SetKeyPolicy>::new();
    let data = Resource::new(move || (create.version().get(), policy.version().get()), |_| get_keys());
    let fresh = Resource::new(move || create.version().get(), |_| take_fresh_key());
    let query = use_query_map();
    let errors =
        move || error_notices([create.value().get().and_then(Result::err), policy.value().get().and_then(Result::err)]);
    view! {
        <Title text="API keys · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"API keys"</h1>
            {move || query.read().get("policy").map(|_| view! {
                <p class="notice ok" role="status">"The key policy was saved."</p>
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
                        Ok(v) => {
                            let filter = query.read_untracked().get("filter").as_deref().and_then(KeyFilter::parse);
                            Either::Left(keys_view(v, filter, create, policy))
                        }
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
            <p><a href="/api-reference">"How to call the API"</a></p>
        </Console>
    }
}

fn keys_view(
    mut v: KeysView,
    filter: Option<KeyFilter>,
    create: ServerAction<CreateKey>,
    policy: ServerAction<SetKeyPolicy>,
) -> impl IntoView {
    if let Some(f) = filter {
        v.keys.retain(|k| f.keeps(k));
    }
    let due: Vec<String> =
        v.keys.iter().filter(|k| k.status == KeyStatus::Due).map(|k| k.description.clone()).collect();
    let max_age = v.policy.max_age_days;
    view! {
        {(!due.is_empty()).then(|| view! {
            <p class="notice warn" role="status">
                "Due for rotation (expiring within 30 days, or 11 months old): " {due.join(", ")}
                ". Roll them from their pages."
            </p>
        })}
        {filter.map(|f| view! {
            <p class="notice" role="status">{format!("Showing {} ({}). ", f.title(), v.keys.len())} <a href="/keys">"Show all keys"</a></p>
        })}
        {if v.keys.is_empty() {
            Either::Left(view! { <p>{if filter.is_some() { "No such key." } else { "No keys yet." }}</p> })
        } else {
            Either::Right(view! {
                <TableWrap label="API keys">
                    <table aria-label="API keys">
                        <thead><tr><th scope="col">"Description"</th><th scope="col">"Kind"</th>
                            <th scope="col">"Key"</th><th scope="col">"Owner"</th><th scope="col">"Expires"</th>
                            <th scope="col">"Last used"</th><th scope="col">"Status"</th></tr></thead>
                        <tbody>
                            {v.keys.into_iter().map(|k| {
                                let href = format!("/keys/{}", k.id);
                                view! {
                                    <tr>
                                        <td><a href=href>{k.description.clone()}</a></td>
                                        <td>{kind_label(&k)}</td>
                                        <td><code>{k.display_prefix.clone()} "…"</code></td>
                                        <td>{k.owner_email.clone()}</td>
                                        <td>{format_utc(k.expires_at)}</td>
                                        <td>{match (k.last_used_at, k.last_used_ip.clone()) {
                                            (Some(at), Some(ip)) => format!("{} from {ip}", format_utc(at)),
                                            _ => "never".to_owned(),
                                        }}</td>
                                        <td><span class=status_class(k.status)>{k.status.label()}</span></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </TableWrap>
            })
        }}
        <section aria-labelledby="new-key-h">
            <h2 id="new-key-h">"Create a key"</h2>
            <ActionForm action=create attr:class="form" attr:aria-label="Create a key">
                <div class="field">
                    <label for="key-kind">"Kind"</label>
                    <select id="key-kind" name="kind">
                        {v.creatable.iter().map(|k| view! {
                            <option value=k.as_str() selected=*k == KeyKind::Read>{kind_title(*k)}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="key-description">"Description"</label>
                    <input id="key-description" name="description" required maxlength="200"
                        placeholder="What uses it, e.g. nightly reporting job"/>
                </div>
                <div class="field">
                    <label for="key-expiry">"Expires after (days)"</label>
                    <input id="key-expiry" name="expires_in_days" type="number" min="1" max=max_age
                        placeholder=max_age.to_string() aria-describedby="key-expiry-hint"/>
                    <small id="key-expiry-hint">"At most " {max_age} " days (the organisation's maximum). Empty means the maximum."</small>
                </div>
                <fieldset class="scopes">
                    <legend>"Scopes (restricted keys)"</legend>
                    {v.resources.iter().map(|r| {
                        let name = format!("scope_{}", r.as_str());
                        let id = format!("key-{name}");
                        view! {
                            <div class="field">
                                <label for=id.clone()>{r.title()}</label>
                                <select id=id name=name>
                                    <option value="none">"none"</option>
                                    <option value="read">"read"</option>
                                    <option value="write">"write"</option>
                                </select>
                            </div>
                        }
                    }).collect_view()}
                    {v.resources.is_empty().then(|| view! {
                        <p class="hint">"You have no feature a key could reach; ask an admin."</p>
                    })}
                </fieldset>
                <div class="field">
                    <label for="key-ips">"Allowed IP addresses (optional)"</label>
                    <textarea id="key-ips" name="allowed_ips" rows="2" aria-describedby="key-ips-hint"
                        placeholder="203.0.113.0/24, 2001:db8::/48"></textarea>
                    <small id="key-ips-hint">"IPv4 or IPv6 addresses or CIDR blocks, separated by commas or lines. Empty: any address."</small>
                </div>
                <div class="field">
                    <label for="key-referers">"Allowed HTTP referers (optional)"</label>
                    <textarea id="key-referers" name="allowed_referers" rows="2" aria-describedby="key-referers-hint"
                        placeholder="https://shop.example.com/*, *.example.com"></textarea>
                    <small id="key-referers-hint">"Only for read-only keys embedded in web pages (refused on keys that can write). The Referer "
                        "header is sent by the caller and can be forged: it keeps honest browsers from using the key "
                        "elsewhere, it stops no script."</small>
                </div>
                <div class="field">
                    <label for="key-rate">"Requests per hour per client IP (optional)"</label>
                    <input id="key-rate" name="rate_per_hour" type="number" min="1"/>
                </div>
                <div class="field check">
                    <input id="key-machines-only" name="machines_only" type="checkbox" value="on"
                        aria-describedby="key-machines-only-hint"/>
                    <label for="key-machines-only">"Machines only"</label>
                    <small id="key-machines-only-hint">"The key then works only over a connection presenting the client "
                        "certificate of an active machine of the organisation (see " <a href="/settings/machines">"Machines"</a> ")."</small>
                </div>
                {v.is_admin.then(|| view! {
                    <div class="field">
                        <label for="key-looks">"A canary looks like a"</label>
                        <select id="key-looks" name="looks_like">
                            <option value="master">"master key"</option>
                            <option value="write">"write key"</option>
                            <option value="read">"read key"</option>
                        </select>
                    </div>
                })}
                <p class="hint">"A master key needs you to "
                    <a href="/confirm-access?next=/keys">"confirm it's you"</a> " first."</p>
                <ApprovalReason id="key-reason"/>
                <button type="submit" disabled=move || create.pending().get()>"Create key"</button>
            </ActionForm>
        </section>
        {v.is_admin.then(|| view! {
            <section aria-labelledby="policy-h">
                <h2 id="policy-h">"Key policy"</h2>
                <ActionForm action=policy attr:class="form" attr:aria-label="Key policy">
                    <div class="field">
                        <label for="policy-age">"Maximum key age (days)"</label>
                        <input id="policy-age" name="max_age_days" type="number" min="1" max="730" required
                            value=v.policy.max_age_days.to_string()/>
                    </div>
                    <div class="field">
                        <label for="policy-unused">"Disable keys unused for (days, empty: never)"</label>
                        <input id="policy-unused" name="disable_unused_days" type="number" min="1" max="730"
                            value=v.policy.disable_unused_days.map(|d| d.to_string()).unwrap_or_default()/>
                    </div>
                    <div class="field">
                        <label for="policy-contact">"Security contact (gets canary and attack alerts)"</label>
                        <input id="policy-contact" name="security_contact" type="email" maxlength="254"
                            value=v.policy.security_contact.clone()/>
                    </div>
                    <p class="hint">"Saving needs you to " <a href="/confirm-access?next=/keys">"confirm it's you"</a> "."</p>
                    <button type="submit" disabled=move || policy.pending().get()>"Save policy"</button>
                </ActionForm>
            </section>
        })}
    }
}
