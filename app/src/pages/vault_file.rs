//! `/vault/files/:id`: one vault file — its facts, a download, every version (each downloadable; an older one
//! can be made current again), moving it to the bin (or back out), and its ephemeral links: a new one's URL is
//! shown once, the others with their status and a Revoke button. Every act is an `ActionForm`, so the page
//! works without JavaScript.

use super::access_history::encode;
use super::vault::Breadcrumbs;
use crate::api::vault::{
    get_vault_file, take_fresh_vault_link, CreateVaultLink, DeleteVaultFile, RestoreVaultVersion, RevokeVaultLink,
    UndeleteVaultFile,
};
use crate::components::{error_notices, Console, ErrorNotice, Hydrated, TableWrap};
use crate::model::{format_utc, human_size, FreshLinkView, VaultFileDetailView, VaultLinkView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Link lifetimes offered: minutes and words (1 hour is the default).
const LIFETIMES: [(i64, &str); 4] = [(15, "15 minutes"), (60, "1 hour"), (1_440, "1 day"), (10_080, "7 days")];

/// The actions of this page, for its forms.
#[derive(Clone, Copy)]
struct Acts {
    restore: ServerAction<RestoreVaultVersion>,
    delete: ServerAction<DeleteVaultFile>,
    undelete: ServerAction<UndeleteVaultFile>,
    link: ServerAction<CreateVaultLink>,
    revoke: ServerAction<RevokeVaultLink>,
}

#[component]
pub fn VaultFilePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let acts = Acts {
        restore: ServerAction::new(),
        delete: ServerAction::new(),
        undelete: ServerAction::new(),
        link: ServerAction::new(),
        revoke: ServerAction::new(),
    };
    let data = Resource::new(
        move || (id(), acts.restore.version().get(), acts.link.version().get(), acts.revoke.version().get()),
        |(id, ..)| get_vault_file(id),
    );
    let fresh = Resource::new(move || (id(), acts.link.version().get()), |(id, _)| take_fresh_vault_link(id));
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("restored").is_some() {
            Some("The version was restored: it is now the current one.")
        } else if q.get("revoked").is_some() {
            Some("The link was revoked.")
        } else {
            None
        }
    };
    let errors = move || {
        error_notices([
            acts.restore.value().get().and_then(Result::err),
            acts.delete.value().get().and_then(Result::err),
            acts.undelete.value().get().and_then(Result::err),
            acts.link.value().get().and_then(Result::err),
            acts.revoke.value().get().and_then(Result::err),
        ])
    };
    view! {
        <Title text="Vault file · Rampart"/>
        <Hydrated/>
        <Console>
            {move || notice().map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {errors}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { fresh.await.ok().flatten().map(fresh_link) })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(file_view(v, acts)),
                        Err(e) => Either::Right(view! {
                            <h1>"Vault file"</h1>
                            <ErrorNotice error=e/>
                            <p><a href="/vault">"Back to the vault"</a></p>
                        }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

/// A link just minted: its URL, this once.
fn fresh_link(f: FreshLinkView) -> impl IntoView {
    view! {
        <section class="notice ok fresh-secret" role="status" aria-labelledby="fresh-link-h">
            <h2 id="fresh-link-h">"New link"</h2>
            <p>"Copy it now: this is the only time it is shown. Anyone with it can download the file until "
                {format_utc(f.expires_at)} {f.single_use.then_some(", once")} "."</p>
            <p><code class="secret" data-testid="fresh-link">{f.url}</code></p>
        </section>
    }
}

fn file_view(v: VaultFileDetailView, acts: Acts) -> impl IntoView {
    let f = v.file;
    let id = f.id.clone();
    let download = format!("/vault/files/{}/download", encode(&f.id));
    let deleted = f.deleted_at.is_some();
    let can_write = v.can_write;
    let bin = deleted.then(|| {
        let id = id.clone();
        view! {
            <p class="notice warn" role="status">
                "This file is in the bin since " {f.deleted_at.map(format_utc)} "; it will be purged on "
                {f.purge_at.map(format_utc)} "."
            </p>
            {can_write.then(|| view! {
                <ActionForm action=acts.undelete attr:class="inline" attr:aria-label="Restore from the bin">
                    <input type="hidden" name="file_id" value=id/>
                    <button type="submit">"Restore from the bin"</button>
                </ActionForm>
            })}
        }
    });
    view! {
        <Breadcrumbs folder=f.folder.clone() file=f.name.clone()/>
        <h1>{f.name.clone()}</h1>
        {bin}
        <dl class="facts">
            <dt>"Path"</dt><dd><code>{f.path.clone()}</code></dd>
            <dt>"Size"</dt><dd>{human_size(f.size)} " (" {f.size} " bytes)"</dd>
            <dt>"SHA-256"</dt><dd><code class="hash">{f.sha256.clone()}</code></dd>
            <dt>"Type"</dt><dd>{f.content_type.clone()}</dd>
            <dt>"Versions"</dt><dd>{f.versions}</dd>
            <dt>"Created"</dt><dd>{format_utc(f.created_at)}</dd>
            <dt>"Updated"</dt><dd>{format_utc(f.updated_at)}</dd>
        </dl>
        {(!deleted).then(|| view! { <p><a class="button" href=download download>"Download"</a></p> })}
        {versions_table(&v.versions, &id, can_write && !deleted, acts)}
        {(v.can_share && !deleted).then(|| links_section(&v.versions, v.links.clone(), &id, acts))}
        {(can_write && !deleted).then(|| view! {
            <section aria-labelledby="delete-h">
                <h2 id="delete-h">"Delete"</h2>
                <details class="confirm">
                    <summary>"Move this file to the bin…"</summary>
                    <p>"Every version goes to the bin. It can be restored from there until it is purged."</p>
                    <ActionForm action=acts.delete attr:class="inline" attr:aria-label="Move to the bin">
                        <input type="hidden" name="file_id" value=id.clone()/>
                        <button type="submit" class="danger">"Yes, move it to the bin"</button>
                    </ActionForm>
                </details>
            </section>
        })}
    }
}

fn versions_table(
    versions: &[crate::model::VaultVersionView],
    id: &str,
    can_restore: bool,
    acts: Acts,
) -> impl IntoView {
    let rows = versions
        .iter()
        .map(|ver| {
            let href = format!("/vault/files/{}/download?version={}", encode(id), encode(&ver.id));
            let short = ver.sha256.chars().take(12).collect::<String>();
            let restore = (can_restore && !ver.current).then(|| {
                let label = format!("Restore version {}", ver.number);
                let form_label = label.clone();
                let (file_id, version_id) = (id.to_owned(), ver.id.clone());
                view! {
                    <ActionForm action=acts.restore attr:class="inline" attr:aria-label=form_label>
                        <input type="hidden" name="file_id" value=file_id/>
                        <input type="hidden" name="version_id" value=version_id/>
                        <button type="submit" class="secondary">{label}</button>
                    </ActionForm>
                }
            });
            view! {
                <tr>
                    <td>{ver.number}{ver.current.then_some(" (current)")}</td>
                    <td title=format!("{} bytes", ver.size)>{human_size(ver.size)}</td>
                    <td><code title=ver.sha256.clone()>{short}"…"</code></td>
                    <td><time>{format_utc(ver.created_at)}</time></td>
                    <td>{ver.created_by.clone()}</td>
                    <td class="actions">
                        <a href=href download aria-label=format!("Download version {}", ver.number)>"Download"</a>
                        {restore}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section aria-labelledby="versions-h">
            <h2 id="versions-h">"Versions"</h2>
            <TableWrap label="Versions">
                <table aria-label="Versions">
                    <thead><tr><th scope="col">"Version"</th><th scope="col">"Size"</th><th scope="col">"SHA-256"</th>
                        <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Actions"</th></tr></thead>
                    <tbody>
                        {rows}
                    </tbody>
                </table>
            </TableWrap>
        </section>
    }
}

fn links_section(
    versions: &[crate::model::VaultVersionView],
    links: Vec<VaultLinkView>,
    id: &str,
    acts: Acts,
) -> impl IntoView {
    let version_options = versions
        .iter()
        .map(|ver| view! { <option value=ver.id.clone()>{format!("Version {} only", ver.number)}</option> })
        .collect_view();
    let list = if links.is_empty() {
        Either::Left(view! { <p>"No links yet."</p> })
    } else {
        let id = id.to_owned();
        Either::Right(view! {
            <TableWrap label="Links">
                <table aria-label="Links">
                    <thead><tr><th scope="col">"Created"</th><th scope="col">"By"</th><th scope="col">"Version"</th>
                        <th scope="col">"Expires"</th><th scope="col">"Uses"</th><th scope="col">"Status"</th>
                        <th scope="col">"Actions"</th></tr></thead>
                    <tbody>
                        {links.into_iter().map(|l| {
                            let active = l.status == "active";
                            let badge = if active { "badge ok" } else { "badge off" };
                            let label = format!("Revoke the link of {}", format_utc(l.created_at));
                            let file_id = id.clone();
                            view! {
                                <tr>
                                    <td><time>{format_utc(l.created_at)}</time></td>
                                    <td>{l.created_by.clone()}</td>
                                    <td>{l.version_number.map(|n| n.to_string()).unwrap_or_else(|| "current".to_owned())}</td>
                                    <td><time>{format_utc(l.expires_at)}</time></td>
                                    <td>{l.uses}{l.single_use.then_some(" (single use)")}</td>
                                    <td><span class=badge>{l.status.clone()}</span></td>
                                    <td class="actions">{active.then(|| {
                                        let form_label = label.clone();
                                        let link_id = l.id.clone();
                                        view! {
                                            <ActionForm action=acts.revoke attr:class="inline" attr:aria-label=form_label>
                                                <input type="hidden" name="file_id" value=file_id/>
                                                <input type="hidden" name="link_id" value=link_id/>
                                                <button type="submit" class="secondary" aria-label=label>"Revoke"</button>
                                            </ActionForm>
                                        }
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </TableWrap>
        })
    };
    let file_id = id.to_owned();
    view! {
        <section aria-labelledby="links-h">
            <h2 id="links-h">"Links"</h2>
            <p>"A link lets someone without an account download this file until it expires. Its URL is shown once."</p>
            <ActionForm action=acts.link attr:class="form" attr:aria-label="Create a link">
                <input type="hidden" name="file_id" value=file_id/>
                <div class="field">
                    <label for="link-minutes">"Lifetime"</label>
                    <select id="link-minutes" name="minutes">
                        {LIFETIMES.into_iter().map(|(m, label)| view! {
                            <option value=m.to_string() selected=m == 60>{label}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="link-version">"Which version"</label>
                    <select id="link-version" name="version_id">
                        <option value="" selected>"Whatever is current when it is used"</option>
                        {version_options}
                    </select>
                </div>
                <div class="field check">
                    <input id="link-single" name="single_use" type="checkbox" value="1"/>
                    <label for="link-single">"Single use (works for one download)"</label>
                </div>
                <button type="submit" disabled=move || acts.link.pending().get()>"Create link"</button>
            </ActionForm>
            {list}
        </section>
    }
}
