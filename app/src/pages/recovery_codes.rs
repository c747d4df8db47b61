//! `/two-factor/recovery-codes`: new recovery codes, shown once, with copy and download.

use crate::api::two_factor::get_recovery_codes;
use crate::components::{copy_text, text_download_href, Console, ErrorNotice, Hydrated};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;

fn download_href(codes: &[String]) -> String {
    let text = format!(
        "Rampart recovery codes\r\nEach code works once. Keep them somewhere safe.\r\n\r\n{}\r\n",
        codes.join("\r\n")
    );
    text_download_href(&text)
}

#[component]
pub fn RecoveryCodesPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_recovery_codes());
    view! {
        <Title text="Recovery codes · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Recovery codes"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) if !v.fresh.is_empty() => {
                            let all = v.fresh.join("\n");
                            let href = download_href(&v.fresh);
                            let copied = RwSignal::new(false);
                            let hydrated = RwSignal::new(false);
                            Effect::new(move |_| hydrated.set(true));
                            Either::Left(view! {
                                <p class="notice ok" role="status">
                                    "Two-factor authentication is on. Save these recovery codes now: they are shown only this once."
                                </p>
                                <p>"If you lose your phone, each code signs you in once instead of an authenticator code."</p>
                                <ul class="codes" aria-label="Recovery codes">
                                    {v.fresh.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                                </ul>
                                <p class="actions">
                                    <a class="button" href=href download="rampart-recovery-codes.txt">"Download as .txt"</a>
                                    <Show when=move || hydrated.get()>
                                        {
                                            let all = all.clone();
                                            view! {
                                                <button type="button" class="secondary" on:click=move |_| {
                                                    copy_text(&all);
                                                    copied.set(true);
                                                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                                            }
                                        }
                                    </Show>
                                </p>
                                <p><a href="/overview">"I have saved them: continue to the console"</a></p>
                            })
                        }
                        Ok(v) => Either::Right(Either::Left(view! {
                            <p>"Recovery codes are shown only once, right after they are made. You have "
                               <strong>{v.left}</strong> " unused code(s) left."</p>
                            <p>"Lost them? Make a new set in " <a href="/security">"security settings"</a> "."</p>
                        })),
                        Err(e) => Either::Right(Either::Right(view! { <ErrorNotice error=e/> })),
                    }
                })}
            </Suspense>
        </Console>
    }
}
