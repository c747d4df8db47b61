//! `/vault`: the organisation's encrypted files. A folder's breadcrumbs, subfolders and files; a search by name,
//! size and dates (a plain GET form: bookmarkable, no JavaScript needed); the bin (`?deleted=1`) with each
//! file's purge date and a Restore button; the upload form (a plain multipart POST to `/vault/upload`, which
//! redirects back here with `?notice=` or `?error=`; with JavaScript, drag and drop and progress bars).

use super::access_history::encode;
use crate::api::vault::{list_vault, UndeleteVaultFile};
use crate::components::{Console, ErrorNotice, Hydrated, TableWrap, UploadForm, Uploads};
use crate::model::{format_utc, human_size, VaultFileView, VaultListView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The search fields, in URL order.
const SEARCH: [&str; 5] = ["q", "min_size", "max_size", "from", "to"];

/// `/vault?folder=…` for a folder path.
pub fn folder_href(folder: &str) -> String {
    if folder.is_empty() {
        "/vault".to_owned()
    } else {
        format!("/vault?folder={}", encode(folder))
    }
}

/// The links from the root to `folder` (`""` or ending in `/`): (label, href), the last one the folder itself.
pub fn breadcrumbs(folder: &str) -> Vec<(String, String)> {
    let mut out = vec![("Vault".to_owned(), "/vault".to_owned())];
    let mut path = String::new();
    for segment in folder.split('/').filter(|s| !s.is_empty()) {
        path = format!("{path}{segment}/");
        out.push((segment.to_owned(), folder_href(&path)));
    }
    out
}

/// The breadcrumb trail of a folder; the last crumb is the current page.
#[component]
pub fn Breadcrumbs(folder: String, #[prop(optional)] file: Option<String>) -> impl IntoView {
    let crumbs = breadcrumbs(&folder);
    let last = crumbs.len() - 1;
    view! {
        <nav class="breadcrumbs" aria-label="Folder">
            <ol>
                {crumbs.into_iter().enumerate().map(|(i, (label, href))| {
                    let current = i == last && file.is_none();
                    view! {
                        <li>{if current {
                            Either::Left(view! { <span aria-current="page">{label}</span> })
                        } else {
                            Either::Right(view! { <a href=href>{label}</a> })
                        }}</li>
                    }
                }).collect_view()}
                {file.map(|f| view! { <li><span aria-current="page">{f}</span></li> })}
            </ol>
        </nav>
    }
}

#[component]
pub fn VaultPage() -> impl IntoView {
    let query = use_query_map();
    let field = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let undelete = ServerAction::<UndeleteVaultFile>::new();
    let uploads = Uploads::new();
    let data = Resource::new(
        move || {
            (field("folder"), SEARCH.map(&field), field("deleted"), uploads.finished.get(), undelete.version().get())
        },
        |(folder, [q, min_size, max_size, from, to], deleted, _, _)| {
            list_vault(folder, q, min_size, max_size, from, to, deleted)
        },
    );
    view! {
        <Title text="Vault · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Vault"</h1>
            <p class="lead">"Your organisation's files, encrypted at rest under its own key. Every version is kept. Times are UTC."</p>
            {move || field("notice").map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {move || field("error").map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
            {move || undelete.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(listing(v, field, uploads, undelete)),
                        Err(e) => Either::Right(view! {
                            <ErrorNotice error=e/>
                            <p><a href="/vault">"Back to the vault"</a></p>
                        }),
                    }
                })}
            </Transition>
        </Console>
    }
}

fn listing(
    v: VaultListView,
    field: impl Fn(&str) -> Option<String> + Copy + Send + Sync + 'static,
    uploads: Uploads,
    undelete: ServerAction<UndeleteVaultFile>,
) -> impl IntoView {
    let bin = field("deleted").is_some();
    let searching = SEARCH.iter().any(|f| field(f).is_some());
    let folder = v.folder.clone();
    let heading = if bin {
        "In the bin".to_owned()
    } else if searching {
        format!("Search results ({})", v.files.len())
    } else {
        "Files".to_owned()
    };
    view! {
        <Breadcrumbs folder=folder.clone()/>
        <p class="actions">
            {if bin {
                Either::Left(view! { <a href=folder_href(&folder)>"← Back to the files"</a> })
            } else {
                let href = if folder.is_empty() { "/vault?deleted=1".to_owned() } else { format!("{}&deleted=1", folder_href(&folder)) };
                Either::Right(view! { <a href=href>"Bin (deleted files)"</a> })
            }}
            {v.can_admin.then(|| view! { <a href="/vault/key">"Encryption key"</a> })}
        </p>
        {(!bin).then(|| search_form(&folder, field))}
        {(!bin && !searching && !v.folders.is_empty()).then(|| view! {
            <section aria-labelledby="folders-h">
                <h2 id="folders-h">"Folders"</h2>
                <ul class="folders">
                    {v.folders.iter().map(|f| {
                        let name = f.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned();
                        view! { <li><a href=folder_href(f)>{name} "/"</a></li> }
                    }).collect_view()}
                </ul>
            </section>
        })}
        <section aria-labelledby="files-h">
            <h2 id="files-h">{heading}</h2>
            {bin.then(|| view! {
                <p class="hint">{format!("Deleted files can be restored for {} days, then they are purged for good.", v.restore_days)}</p>
            })}
            {files_table(v.files, bin, searching, v.can_write, undelete)}
            {v.truncated.then(|| view! { <p class="hint">"Only the first 500 files are shown: narrow the search."</p> })}
        </section>
        {(v.can_write && !bin).then(|| view! {
            <UploadForm folder=folder.clone() max_file_bytes=v.max_file_bytes uploads=uploads/>
        })}
    }
}

fn search_form(folder: &str, field: impl Fn(&str) -> Option<String> + Copy + 'static) -> impl IntoView {
    let f = move |name: &str| field(name).unwrap_or_default();
    view! {
        <form method="get" action="/vault" class="form filters" aria-label="Search files">
            <input type="hidden" name="folder" value=folder.to_owned()/>
            <div class="field">
                <label for="s-q">"Name contains"</label>
                <input id="s-q" name="q" type="search" value=f("q") maxlength="255"/>
            </div>
            <div class="field">
                <label for="s-min">"Size at least (bytes)"</label>
                <input id="s-min" name="min_size" type="number" min="0" value=f("min_size")/>
            </div>
            <div class="field">
                <label for="s-max">"Size at most (bytes)"</label>
                <input id="s-max" name="max_size" type="number" min="0" value=f("max_size")/>
            </div>
            <div class="field">
                <label for="s-from">"Changed from (UTC date)"</label>
                <input id="s-from" name="from" type="date" value=f("from")/>
            </div>
            <div class="field">
                <label for="s-to">"Changed until (UTC date, included)"</label>
                <input id="s-to" name="to" type="date" value=f("to")/>
            </div>
            <div class="actions">
                <button type="submit">"Search"</button>
                <a href=folder_href(folder)>"Clear"</a>
            </div>
        </form>
    }
}

fn files_table(
    files: Vec<VaultFileView>,
    bin: bool,
    searching: bool,
    can_write: bool,
    undelete: ServerAction<UndeleteVaultFile>,
) -> impl IntoView {
    if files.is_empty() {
        let empty = if bin {
            "The bin is empty."
        } else if searching {
            "No file matches."
        } else {
            "No files here yet."
        };
        return Either::Left(view! { <p>{empty}</p> });
    }
    Either::Right(view! {
        <TableWrap label={if bin { "Deleted files" } else { "Files" }}>
            <table aria-label=if bin { "Deleted files" } else { "Files" }>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        {searching.then(|| view! { <th scope="col">"Folder"</th> })}
                        <th scope="col">"Size"</th>
                        <th scope="col">"Versions"</th>
                        <th scope="col">{if bin { "Deleted" } else { "Updated" }}</th>
                        {bin.then(|| view! { <th scope="col">"Purged on"</th><th scope="col">"Actions"</th> })}
                    </tr>
                </thead>
                <tbody>
                    {files.into_iter().map(|f| {
                        let href = format!("/vault/files/{}", encode(&f.id));
                        let when = if bin { f.deleted_at.unwrap_or(f.updated_at) } else { f.updated_at };
                        let id = f.id.clone();
                        let label = format!("Restore {}", f.name);
                        view! {
                            <tr>
                                <td><a href=href>{f.name.clone()}</a></td>
                                {searching.then(|| view! {
                                    <td><a href=folder_href(&f.folder)>{if f.folder.is_empty() { "/".to_owned() } else { f.folder.clone() }}</a></td>
                                })}
                                <td title=format!("{} bytes", f.size)>{human_size(f.size)}</td>
                                <td>{f.versions}</td>
                                <td><time>{format_utc(when)}</time></td>
                                {bin.then(|| view! {
                                    <td><time>{f.purge_at.map(format_utc).unwrap_or_default()}</time></td>
                                    <td class="actions">{can_write.then(|| {
                                        let form_label = label.clone();
                                        view! {
                                            <ActionForm action=undelete attr:class="inline" attr:aria-label=form_label>
                                                <input type="hidden" name="file_id" value=id.clone()/>
                                                <button type="submit" class="secondary" aria-label=label.clone()>"Restore"</button>
                                            </ActionForm>
                                        }
                                    })}</td>
                                })}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    })
}
