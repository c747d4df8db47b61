//! `/settings/machines` (owners and admins): the machines enrolled with client certificates — each with its
//! certificate's end (and whether it is due for renewal), where and when it was last seen, and a Revoke
//! button —, the enrolment tokens still waiting, a form for a new token (a step-up first; the token shown
//! once with the commands that use it), and the organisation's machine CA to download.

use crate::api::machines::{
    get_machines, take_fresh_machine_token, CreateMachineToken, RevokeMachine, RevokeMachineToken,
};
use crate::components::{error_notices, text_download_href, Console, ErrorNotice, Hydrated, TableWrap};
use crate::model::{format_utc, FreshMachineToken, MachineTokenView, MachineView, MachinesView, ENROL_COMMANDS};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn MachinesPage() -> impl IntoView {
    let create = ServerAction::<CreateMachineToken>::new();
    let revoke = ServerAction::<RevokeMachine>::new();
    let revoke_token = ServerAction::<RevokeMachineToken>::new();
    let data = Resource::new(
        move || (create.version().get(), revoke.version().get(), revoke_token.version().get()),
        |_| get_machines(),
    );
    let fresh = Resource::new(move || create.version().get(), |_| take_fresh_machine_token());
    let query = use_query_map();
    let revoked = move || query.read().get("revoked").is_some();
    view! {
        <Title text="Machines · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Machines"</h1>
            <p>"Machines enrolled here hold a client certificate signed by the organisation's own machine CA. \
                An API key marked “machines only” works only over a connection presenting the certificate of an \
                active machine of the organisation; a revoked machine is refused from its next request on. \
                Creating an enrolment token needs a " <a href="/confirm-access?next=/settings/machines">"step-up"</a>
                " within 10 minutes."</p>
            {move || revoked().then(|| view! {
                <p class="notice ok" role="status">"The machine was revoked: its certificates no longer open anything."</p>
            })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let fresh = fresh.await.ok().flatten();
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            {fresh.map(|f| fresh_token(f, &v.api_origin))}
                            {move || error_notices([
                                revoke.value().get().and_then(Result::err),
                                revoke_token.value().get().and_then(Result::err),
                            ])}
                            {body(v, revoke, revoke_token)}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
            <section aria-labelledby="token-h">
                <h2 id="token-h">"Enrol a machine"</h2>
                {move || error_notices([create.value().get().and_then(Result::err)])}
                <ActionForm action=create attr:class="form" attr:aria-label="Create an enrolment token">
                    <div class="field">
                        <label for="machine-name">"Machine name"</label>
                        <input id="machine-name" name="name" type="text" required maxlength="80"/>
                    </div>
                    <div class="field">
                        <label for="source-range">"Source range (optional): addresses or CIDR blocks, comma-separated"</label>
                        <input id="source-range" name="source_range" type="text" spellcheck="false"
                            placeholder="203.0.113.0/24"/>
                    </div>
                    <div class="field">
                        <label for="cert-days">"Certificate validity (days, 30 to 90)"</label>
                        <input id="cert-days" name="cert_days" type="number" min="30" max="90" value="90" required/>
                    </div>
                    <div class="field">
                        <label for="valid-hours">"Token valid for (hours, 1 to 24)"</label>
                        <input id="valid-hours" name="valid_hours" type="number" min="1" max="24" value="24" required/>
                    </div>
                    <button type="submit" disabled=move || create.pending().get()>"Create enrolment token"</button>
                </ActionForm>
            </section>
        </Console>
    }
}

/// The commands a machine runs with its token: a key and CSR made on the machine, the enrolment, a first call.
fn enrol_commands(origin: &str, token: &str) -> String {
    format!("export RAMPART_URL='{origin}' ENROL_TOKEN='{token}' RAMPART_KEY='<a machines-only key>'\n{ENROL_COMMANDS}")
}

fn fresh_token(f: FreshMachineToken, origin: &str) -> impl IntoView {
    let commands = enrol_commands(origin, &f.token);
    view! {
        <section class="notice ok" role="status" aria-labelledby="fresh-token-h">
            <h2 id="fresh-token-h">"The enrolment token for “" {f.name} "”"</h2>
            <p>"Copy it now: it is not shown again, and it enrols one machine. On the machine:"</p>
            <p><code class="secret" data-testid="machine-token">{f.token}</code></p>
            <pre><code>{commands}</code></pre>
        </section>
    }
}

fn body(
    v: MachinesView,
    revoke: ServerAction<RevokeMachine>,
    revoke_token: ServerAction<RevokeMachineToken>,
) -> impl IntoView {
    let proxy = (!v.client_certs).then(|| {
        view! {
            <p class="notice warn" role="alert">"This server runs behind a TLS-terminating proxy: machine certificates \
                never reach it, so machines cannot be enrolled and no key can be “machines only”."</p>
        }
    });
    let ca = v.ca_pem.clone().map(|pem| {
        let fingerprint = v.ca_fingerprint.clone().unwrap_or_default();
        view! {
            <section aria-labelledby="ca-h">
                <h2 id="ca-h">"Machine CA"</h2>
                <p>"SHA-256 " <code>{fingerprint}</code></p>
                <p><a href=text_download_href(&pem) download="rampart-machine-ca.pem">"Download the CA certificate"</a></p>
            </section>
        }
    });
    view! {
        {proxy}
        <section aria-labelledby="machines-h">
            <h2 id="machines-h">"Enrolled machines"</h2>
            {machines_table(v.machines, revoke)}
        </section>
        <section aria-labelledby="tokens-h">
            <h2 id="tokens-h">"Waiting enrolment tokens"</h2>
            {tokens_table(v.tokens, revoke_token)}
        </section>
        {ca}
    }
}

fn ranges(r: &[String]) -> String {
    if r.is_empty() {
        "anywhere".to_owned()
    } else {
        r.join(", ")
    }
}

fn machines_table(machines: Vec<MachineView>, revoke: ServerAction<RevokeMachine>) -> impl IntoView {
    if machines.is_empty() {
        return Either::Left(view! { <p>"No machine is enrolled yet."</p> });
    }
    Either::Right(view! {
        <TableWrap label="Machines">
            <table>
                <caption class="visually-hidden">"Machines"</caption>
                <thead><tr>
                    <th scope="col">"Machine"</th><th scope="col">"From"</th><th scope="col">"Certificate"</th>
                    <th scope="col">"Last seen"</th><th scope="col">"State"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {machines.into_iter().map(|m| {
                        let label = format!("Revoke the machine {}", m.name);
                        let short: String = m.fingerprint.chars().take(16).collect();
                        let renewal = m.renewal_due.then_some(" — renewal due");
                        let seen = match (m.last_seen_at, m.last_seen_ip.clone()) {
                            (Some(at), Some(ip)) => format!("{} from {ip}", format_utc(at)),
                            (Some(at), None) => format_utc(at),
                            _ => "never".to_owned(),
                        };
                        let state = match m.revoked_at {
                            Some(at) => format!("revoked {} by {}", format_utc(at), m.revoked_by.clone().unwrap_or_default()),
                            None => "active".to_owned(),
                        };
                        let action = m.revoked_at.is_none().then(|| view! {
                            <ActionForm action=revoke attr:class="inline">
                                <input type="hidden" name="machine_id" value=m.id.clone()/>
                                <button type="submit" class="secondary" aria-label=label>"Revoke"</button>
                            </ActionForm>
                        });
                        view! {
                            <tr>
                                <td>{m.name.clone()}<br/><small>"enrolled " {format_utc(m.created_at)} " (token by "
                                    {m.created_by.clone()} ")"</small></td>
                                <td>{ranges(&m.source_range)}</td>
                                <td><code>{short}</code><br/><small>"until " {format_utc(m.not_after)} {renewal}</small></td>
                                <td>{seen}</td>
                                <td>{state}</td>
                                <td>{action}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    })
}

fn tokens_table(tokens: Vec<MachineTokenView>, revoke: ServerAction<RevokeMachineToken>) -> impl IntoView {
    if tokens.is_empty() {
        return Either::Left(view! { <p>"No token is waiting."</p> });
    }
    Either::Right(view! {
        <TableWrap label="Enrolment tokens">
            <table>
                <caption class="visually-hidden">"Enrolment tokens"</caption>
                <thead><tr>
                    <th scope="col">"For"</th><th scope="col">"From"</th><th scope="col">"Certificate"</th>
                    <th scope="col">"Valid until"</th><th scope="col">"Created by"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {tokens.into_iter().map(|t| {
                        let label = format!("Revoke the token for {}", t.name);
                        view! {
                            <tr>
                                <td>{t.name.clone()}</td>
                                <td>{ranges(&t.source_range)}</td>
                                <td>{t.cert_days} " days"</td>
                                <td>{format_utc(t.expires_at)}</td>
                                <td>{t.created_by.clone()}</td>
                                <td>
                                    <ActionForm action=revoke attr:class="inline">
                                        <input type="hidden" name="token_id" value=t.id.clone()/>
                                        <button type="submit" class="secondary" aria-label=label>"Revoke"</button>
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
