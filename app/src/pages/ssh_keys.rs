//! `/ssh-keys`: the member's SSH keys (every member's for owners and admins) — link a GitHub account whose
//! keys are synced every few minutes, or paste a key; each key's type, size, fingerprint, source, state and
//! dates; short-lived certificates; SFTP access (`sftp`); and, for owners and admins, the organisation's key
//! policy.

mod sftp;

use crate::api::ssh::{
    get_ssh_keys, AddSshKey, EndSftpSession, IssueSshCertificate, LinkGithub, RemoveSshKey, ResumeSftp,
    SetSshKeyPolicy, UnlinkGithub,
};
use crate::components::{text_download_href, Console, ErrorNotice, Hydrated, TableWrap};
use crate::model::{format_utc, AppError, SshCertView, SshKeyView, SshKeysView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SshKeysPage() -> impl IntoView {
    let link = ServerAction::<LinkGithub>::new();
    let unlink = ServerAction::<UnlinkGithub>::new();
    let add = ServerAction::<AddSshKey>::new();
    let remove = ServerAction::<RemoveSshKey>::new();
    let policy = ServerAction::<SetSshKeyPolicy>::new();
    let issue = ServerAction::<IssueSshCertificate>::new();
    let end = ServerAction::<EndSftpSession>::new();
    let resume = ServerAction::<ResumeSftp>::new();
    let data = Resource::new(
        move || {
            let forms = (link.version().get(), unlink.version().get(), add.version().get(), remove.version().get());
            let sftp = (end.version().get(), resume.version().get());
            (forms, policy.version().get(), issue.version().get(), sftp)
        },
        |_| get_ssh_keys(),
    );
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        [
            ("added", "The key was added."),
            ("removed", "The key was removed."),
            ("linked", "Your GitHub account is linked and its keys were read."),
            ("unlinked", "Your GitHub account is unlinked; its keys are gone."),
            ("policy", "The key policy was saved."),
            ("certificate", "Your certificate is ready below."),
            ("sftp", "Done."),
        ]
        .into_iter()
        .find(|(k, _)| q.get(k).is_some())
        .map(|(_, m)| m)
    };
    let error_of =
        move |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> });
    view! {
        <Title text="SSH keys · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"SSH keys"</h1>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(view! {
                            <section aria-labelledby="github-h">
                                <h2 id="github-h">"GitHub"</h2>
                                {github_status(&v)}
                                {move || error_of(link.value().get())}
                                <ActionForm action=link attr:class="form" attr:aria-label="Link a GitHub account">
                                    <div class="field">
                                        <label for="github_user">"GitHub user name"</label>
                                        <input id="github_user" name="github_user" type="text" required maxlength="39"
                                            spellcheck="false" autocapitalize="off" autocomplete="off"/>
                                    </div>
                                    <button type="submit" disabled=move || link.pending().get()>"Link and read the keys"</button>
                                </ActionForm>
                                {v.github.is_some().then(|| view! {
                                    <ActionForm action=unlink attr:class="inline">
                                        <button type="submit" class="secondary">"Unlink GitHub"</button>
                                    </ActionForm>
                                })}
                            </section>
                            <section aria-labelledby="keys-h">
                                <h2 id="keys-h">{if v.all_members { "Every member's keys" } else { "Your keys" }}</h2>
                                {move || error_of(remove.value().get())}
                                {keys_table(v.keys.clone(), v.all_members, remove)}
                                {move || error_of(add.value().get())}
                                <ActionForm action=add attr:class="form" attr:aria-label="Add a key">
                                    <div class="field">
                                        <label for="public_key">"Public key (one line, as in ~/.ssh/id_ed25519.pub)"</label>
                                        <textarea id="public_key" name="public_key" rows="3" required spellcheck="false"
                                            autocapitalize="off"></textarea>
                                    </div>
                                    <button type="submit" disabled=move || add.pending().get()>"Add key"</button>
                                </ActionForm>
                                <p class="hint">{policy_text(&v.policy)}</p>
                            </section>
                            <section aria-labelledby="cert-h">
                                <h2 id="cert-h">"Short-lived certificate"</h2>
                                <p>"A certificate lets a key in for " {v.cert_minutes} " minutes, signed by the \
                                    organisation's certificate authority. It is issued after a two-factor step-up \
                                    (Security settings) within the last 10 minutes."</p>
                                {v.ca_public_key.clone().map(|ca| view! {
                                    <p>"Certificate authority: " <code class="wrap">{ca}</code></p>
                                })}
                                {move || error_of(issue.value().get())}
                                <ActionForm action=issue attr:class="form" attr:aria-label="Issue a certificate">
                                    <div class="field">
                                        <label for="cert_public_key">"Public key to certify"</label>
                                        <textarea id="cert_public_key" name="public_key" rows="3" required
                                            spellcheck="false" autocapitalize="off"></textarea>
                                    </div>
                                    <button type="submit" disabled=move || issue.pending().get()>"Issue certificate"</button>
                                </ActionForm>
                                {certificates(v.certificates.clone())}
                            </section>
                            {v.sftp.clone().map(|s| sftp::sftp_section(s, v.all_members, end, resume))}
                            {v.all_members.then(|| view! {
                                <section aria-labelledby="policy-h">
                                    <h2 id="policy-h">"Key policy"</h2>
                                    <p>"Raising the bar disables (does not delete) every key below it and tells its owner. \
                                        Changing it needs a step-up within 10 minutes (Security settings)."</p>
                                    {move || error_of(policy.value().get())}
                                    <ActionForm action=policy attr:class="form" attr:aria-label="Key policy">
                                        <div class="field">
                                            <label for="policy">"Accept"</label>
                                            <select id="policy" name="policy">
                                                <option value="standard" selected=v.policy == "standard">
                                                    "ed25519, ECDSA, security keys, RSA of 3072 bits or more"</option>
                                                <option value="security_keys_only" selected=v.policy == "security_keys_only">
                                                    "Security keys only (sk-ssh-ed25519, sk-ecdsa)"</option>
                                            </select>
                                        </div>
                                        <div class="field">
                                            <label for="cert_minutes">"Certificates live (minutes, 1 to 720)"</label>
                                            <input id="cert_minutes" name="cert_minutes" type="number" min="1" max="720"
                                                value=v.cert_minutes.to_string()/>
                                        </div>
                                        <div class="field checkbox">
                                            <input id="require_certs" name="require_certs" type="checkbox" value="on"
                                                checked=v.sftp.as_ref().is_some_and(|s| s.require_certs)/>
                                            <label for="require_certs">"Require short-lived certificates for SFTP \
                                                (plain keys stop working)"</label>
                                        </div>
                                        <button type="submit" disabled=move || policy.pending().get()>"Save policy"</button>
                                    </ActionForm>
                                </section>
                            })}
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn policy_text(policy: &str) -> &'static str {
    if policy == "security_keys_only" {
        "This organisation accepts security keys only (ssh-keygen -t ed25519-sk)."
    } else {
        "Accepted: ed25519, ECDSA (P-256/384/521), security keys, and RSA of 3072 bits or more. DSA and shorter RSA \
         keys are refused."
    }
}

fn github_status(v: &SshKeysView) -> impl IntoView {
    let rate = if v.github_token {
        String::new()
    } else {
        " (Without a token from the operator, GitHub answers 60 requests an hour per server address.)".to_owned()
    };
    match &v.github {
        None => Either::Left(view! {
            <p>"Link your GitHub account: its public keys are read now and every " {every(v.sync_seconds)}
               "; a key you remove on GitHub stops working here at the next read." {rate}</p>
        }),
        Some(g) => Either::Right(view! {
            <p>"Linked to GitHub user " <strong>{g.user.clone()}</strong> ". Last read "
               {g.last_success_at.map(format_utc).unwrap_or_else(|| "never".to_owned())}
               "; next " {format_utc(g.next_sync_at)} "." {rate}</p>
            {g.last_error.clone().map(|e| view! { <p class="notice error" role="alert">"GitHub: " {e}</p> })}
        }),
    }
}

fn state_text(k: &SshKeyView) -> String {
    let reason = k.state_reason.clone().map(|r| format!(": {r}")).unwrap_or_default();
    match k.state.as_str() {
        "active" => "Active".to_owned(),
        "stale" => format!(
            "Stale: GitHub cannot be reached; accepted until {}",
            k.usable_until.map(format_utc).unwrap_or_default()
        ),
        "stale_refused" => "Refused until GitHub can be read again".to_owned(),
        "disabled" => format!("Disabled{reason}"),
        "revoked" => format!("Revoked{reason}"),
        other => other.to_owned(),
    }
}

fn keys_table(keys: Vec<SshKeyView>, all: bool, remove: ServerAction<RemoveSshKey>) -> impl IntoView {
    if keys.is_empty() {
        return Either::Left(view! { <p>"No SSH key yet."</p> });
    }
    Either::Right(view! {
        <TableWrap label="SSH keys">
            <table>
                <caption class="visually-hidden">"SSH keys"</caption>
                <thead><tr>
                    {all.then(|| view! { <th scope="col">"Member"</th> })}
                    <th scope="col">"Key"</th><th scope="col">"Fingerprint"</th><th scope="col">"Source"</th>
                    <th scope="col">"State"</th><th scope="col">"First seen"</th><th scope="col">"Last synced"</th>
                    <th scope="col">"Last used"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {keys.into_iter().map(|k| {
                        let label = format!("Remove the key {}", k.fingerprint);
                        let state = state_text(&k);
                        view! {
                            <tr>
                                {all.then(|| view! { <td>{k.member_email.clone()}</td> })}
                                <td>{k.key_type.clone()} " (" {k.bits} " bits)"
                                    {(!k.comment.is_empty()).then(|| view! { <br/><small>{k.comment.clone()}</small> })}</td>
                                <td><code>{k.fingerprint.clone()}</code></td>
                                <td>{if k.source == "github" { "GitHub" } else { "Pasted" }}</td>
                                <td>{state}</td>
                                <td>{format_utc(k.first_seen_at)}</td>
                                <td>{k.last_synced_at.map(format_utc).unwrap_or_else(|| "—".to_owned())}</td>
                                <td>{k.last_used_at.map(format_utc).unwrap_or_else(|| "never".to_owned())}</td>
                                <td>
                                    <ActionForm action=remove attr:class="inline">
                                        <input type="hidden" name="ssh_key_id" value=k.id/>
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

fn certificates(certs: Vec<SshCertView>) -> impl IntoView {
    if certs.is_empty() {
        return Either::Left(view! { <p>"No valid certificate."</p> });
    }
    Either::Right(view! {
        <ul class="plain" aria-label="Your valid certificates">
            {certs.into_iter().map(|c| {
                let href = text_download_href(&format!("{}\n", c.certificate));
                let label = format!("Download certificate {}", c.serial);
                view! {
                    <li>
                        "Serial " {c.serial} " for " <code>{c.fingerprint}</code> ", user " <code>{c.principal}</code>
                        ", valid until " {format_utc(c.valid_before)} ". "
                        <a href=href download="id-cert.pub" aria-label=label>"Download"</a>
                    </li>
                }
            }).collect_view()}
        </ul>
    })
}

/// "5 minutes", "90 seconds".
fn every(seconds: i64) -> String {
    if seconds % 60 == 0 {
        format!("{} minute{}", seconds / 60, if seconds == 60 { "" } else { "s" })
    } else {
        format!("{seconds} seconds")
    }
}
