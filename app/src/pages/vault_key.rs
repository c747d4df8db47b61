//! `/vault/key`: the tenant's vault data key (owners and admins) — its version, and rotating it: a new key is
//! made at once, new files use it, and a background job re-encrypts every stored file, then destroys the old
//! key. Starting a rotation needs a step-up; the page shows the progress (files done of total).

use crate::api::vault::{get_vault_key, RotateVaultKey};
use crate::components::{Console, ErrorNotice, Hydrated};
use crate::model::{format_utc, VaultKeyView};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn VaultKeyPage() -> impl IntoView {
    let rotate = ServerAction::<RotateVaultKey>::new();
    let data = Resource::new(move || rotate.version().get(), |_| get_vault_key());
    let query = use_query_map();
    view! {
        <Title text="Vault key · Rampart"/>
        <Hydrated/>
        <Console>
            <p><a href="/vault">"← Vault"</a></p>
            <h1>"Vault encryption key"</h1>
            {move || query.read().get("rotating").map(|_| view! {
                <p class="notice ok" role="status">"The rotation has started: every file is being re-encrypted under the new key."</p>
            })}
            {move || rotate.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left(key_view(v, rotate)),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

fn key_view(v: VaultKeyView, rotate: ServerAction<RotateVaultKey>) -> impl IntoView {
    let running = v.rotation.as_ref().is_some_and(|r| r.finished_at.is_none());
    let rotation = v.rotation.map(|r| {
        let state = match (r.finished_at, &r.error) {
            (Some(at), _) => format!("finished {}", format_utc(at)),
            (None, Some(err)) => format!("stalled: {err} (it is retried)"),
            (None, None) => "running".to_owned(),
        };
        view! {
            <section aria-labelledby="rotation-h">
                <h2 id="rotation-h">"Last rotation"</h2>
                <p>{format!("Version {} → {}, started {}: {state}.", r.from_version, r.to_version, format_utc(r.started_at))}</p>
                <p>
                    <label for="rotation-progress">"Files re-encrypted"</label> " "
                    <progress id="rotation-progress" max=r.total.max(1).to_string() value=r.done.to_string()></progress>
                    " " <span role="status">{format!("{} of {}", r.done, r.total)}</span>
                </p>
            </section>
        }
    });
    view! {
        <dl class="facts">
            <dt>"Data key version"</dt>
            <dd>{v.active_version.map(|n| n.to_string()).unwrap_or_else(|| "none yet (made with the first upload)".to_owned())}</dd>
            <dt>"Created"</dt>
            <dd>{v.created_at.map(format_utc).unwrap_or_else(|| "—".to_owned())}</dd>
        </dl>
        <p class="hint">"Each organisation's files are encrypted (AES-256-GCM) under its own data key, which is itself kept encrypted under the server's master key."</p>
        {rotation}
        <section aria-labelledby="rotate-h">
            <h2 id="rotate-h">"Rotate the data key"</h2>
            <p>"A new key encrypts new files at once; every stored file is then re-encrypted in the background and the old key is destroyed. Downloads keep working meanwhile."</p>
            <p class="hint">"Rotating needs you to " <a href="/confirm-access?next=/vault/key">"confirm it's you"</a> " first."</p>
            <ActionForm action=rotate attr:class="inline" attr:aria-label="Rotate the data key">
                <button type="submit" disabled=move || running || rotate.pending().get()>"Rotate data key"</button>
            </ActionForm>
        </section>
    }
}
